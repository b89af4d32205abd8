"""The WhatsApp side of a turn: run it, send the reply in the richest form that fits, record it."""

from __future__ import annotations

import logging
import time
from typing import Any

from api.logs import mask_phone
from dialog.engine import Engine
from dialog.store.base import Store, Turn
from dialog.turn import TurnResult

log = logging.getLogger("channel")
LIST_BODY_MAX = 1024
CAR_PREFIX = "car:"


class WhatsAppChannel:
    """Processes acknowledged inbound messages exactly once and sends the answers."""

    def __init__(self, engine: Engine, store: Store, client: Any, metrics: Any = None):
        self.engine, self.store, self.client, self.metrics = engine, store, client, metrics

    def process(self, job: dict[str, Any]) -> None:
        """Answer one inbound message (a job stored before the webhook said 200)."""
        message_id, user = job["message_id"], job["user"]
        if job.get("recovered") and self._finish_recovered(job):
            return
        started = time.perf_counter()
        self.client.mark_read(message_id)
        kind = job.get("kind", "text")
        if kind in {"text", "interactive"}:
            result = self._turn(job)
            self._send_result(user, message_id, result)
            if self.metrics is not None:
                self.metrics.turn(result, channel="whatsapp", seconds=time.perf_counter() - started)
        else:
            text = self.engine.runtime.current.config.templates.get("unsupported_message", "")
            self._record(user, message_id, self.client.send_text(user, text))
        self.store.complete_inbound(message_id)

    def _turn(self, job: dict[str, Any]) -> TurnResult:
        user, message_id = job["user"], job["message_id"]
        reply_id = job.get("reply_id") or ""
        picked = None
        if reply_id.startswith(CAR_PREFIX) and reply_id[len(CAR_PREFIX) :].isdigit():
            picked = int(reply_id[len(CAR_PREFIX) :])  # a tap on a car row of a list message
        text = job.get("text") or ""
        return self.engine.handle(user, text, message_id=message_id, picked=picked)

    def _send_result(self, user: str, message_id: str, result: TurnResult) -> None:
        rows = result.choices
        if result.choices_kind == "cars" and rows:
            results = self._send_list(user, result)
        elif result.choices_kind == "buttons" and rows and len(result.reply) <= LIST_BODY_MAX:
            results = self.client.send_buttons(user, result.reply, _buttons(rows))
            results = results if _ok(results) else self.client.send_text(user, result.reply)
        else:
            results = self.client.send_text(user, result.reply)
        self._record(user, message_id, results)

    def _send_list(self, user: str, result: TurnResult) -> list:
        from tools.whatsapp import ListRow

        rows = [ListRow(id=c.id, title=c.title, description=c.description) for c in result.choices]
        config = self.engine.runtime.current.config.templates
        button = config.get("list_button", "Ver autos")
        if len(result.reply) <= LIST_BODY_MAX:
            sent = self.client.send_list(user, result.reply, button, rows)
            return sent if _ok(sent) else self.client.send_text(user, result.reply)
        sent = self.client.send_text(user, result.reply)
        short = config.get("list_body", "Elige una opción:")
        return sent + _as_list(self.client.send_list(user, short, button, rows))

    def _record(self, user: str, message_id: str, results: Any) -> None:
        for sent in _as_list(results):
            status = "sent" if sent.ok else "failed"
            wamid = sent.wamid or f"failed:{message_id}:{time.time_ns()}"
            self.store.record_outbound(wamid, user, message_id, status=status, error=sent.error)
            if not sent.ok:
                log.error(
                    "send failed",
                    extra={"message_id": message_id, "phone": user, "error": sent.error},
                )
                if self.metrics is not None:
                    self.metrics.send_failures.inc()

    def _finish_recovered(self, job: dict[str, Any]) -> bool:
        """A job left by a process that died: True if its reply is (now) out and it is closed."""
        message_id, user = job["message_id"], job["user"]
        if not self._already_sent(message_id, user):
            ran = self._turn_already_run(message_id, user)
            if ran is None:
                return False  # it never ran: run it now
            # the process died after the turn, before its reply went out: resend, don't re-run
            self._record(user, message_id, self.client.send_text(user, ran.text_out))
        self.store.complete_inbound(message_id)
        return True

    def _already_sent(self, message_id: str, user: str) -> bool:
        """A job recovered after a crash: did a reply to it already go out (or fail for good)?"""
        if not any(out.message_id == message_id for out in self.store.outbound(user, limit=50)):
            return False
        log.warning("recovered job already answered", extra={"message_id": message_id})
        return True

    def _turn_already_run(self, message_id: str, user: str) -> Turn | None:
        """Its turn is in the history: resend that reply rather than run the turn twice."""
        for turn in self.store.history(user, limit=20):
            if turn.message_id == message_id:
                log.warning("recovered job: resending its reply", extra={"message_id": message_id})
                return turn
        return None


def _buttons(rows: list) -> list:
    from tools.whatsapp import Button

    return [Button(id=row.id, title=row.title) for row in rows[:3]]


def _ok(results: Any) -> bool:
    return all(result.ok for result in _as_list(results))


def _as_list(results: Any) -> list:
    return results if isinstance(results, list) else [results]


__all__ = ["WhatsAppChannel", "mask_phone"]
