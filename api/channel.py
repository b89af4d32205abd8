"""The WhatsApp side of a turn: run it, send the reply in the richest form that fits, record it."""

from __future__ import annotations

import logging
import time
from typing import Any

from api.logs import mask_phone
from dialog.engine import Engine
from dialog.store.base import OutboundRecord, Store, Turn, error_text
from dialog.turn import TurnResult

log = logging.getLogger("channel")
LIST_BODY_MAX = 1024


class WhatsAppChannel:
    """Processes acknowledged inbound messages exactly once and sends the answers."""

    def __init__(self, engine: Engine, store: Store, client: Any, metrics: Any = None):
        self.engine, self.store, self.client, self.metrics = engine, store, client, metrics

    def process(self, job: dict[str, Any]) -> None:
        """Answer one inbound message (a job stored before the webhook said 200)."""
        message_id, user = job["message_id"], job["user"]
        if job.get("recovered") and self._finish_recovered(job):
            return
        if job.get("throttle"):
            self._throttled(job)
            return
        started = time.perf_counter()
        self.client.mark_read(message_id)
        kind = job.get("kind", "text")
        if kind in {"text", "interactive", "button"}:
            result = self._turn(job)
            sent = self._send_result(user, result)
        else:
            text = self.engine.runtime.current.config.templates.get("unsupported_message", "")
            sent, result = self.client.send_text(user, text), None
        self.store.complete_inbound(message_id, self._replies(user, message_id, sent))
        if result is not None and self.metrics is not None:
            self.metrics.turn(result, channel="whatsapp", seconds=time.perf_counter() - started)

    def _throttled(self, job: dict[str, Any]) -> None:
        """Over the customer's message rate: no turn; the first one over it says to wait."""
        message_id, user, replies = job["message_id"], job["user"], []
        if job["throttle"] == "notice":
            text = self.engine.runtime.current.config.templates.get("rate_limited", "")
            replies = self._replies(user, message_id, self.client.send_text(user, text))
        self.store.complete_inbound(message_id, replies)

    def _turn(self, job: dict[str, Any]) -> TurnResult:
        user, message_id = job["user"], job["message_id"]
        text = job.get("text") or ""  # a tapped button is read by its id, not its title
        return self.engine.handle(user, text, message_id=message_id, reply_id=job.get("reply_id"))

    def _send_result(self, user: str, result: TurnResult) -> Any:
        rows = result.choices
        if result.choices_kind == "cars" and rows:
            return self._send_list(user, result)
        if result.choices_kind == "buttons" and rows and len(result.reply) <= LIST_BODY_MAX:
            sent = self.client.send_buttons(user, result.reply, _buttons(rows))
            return sent if _ok(sent) else self.client.send_text(user, result.reply)
        return self.client.send_text(user, result.reply)

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

    def _replies(self, user: str, message_id: str, results: Any) -> list[OutboundRecord]:
        """What the store keeps of each send; failures are logged and counted here."""
        records = []
        for sent in _as_list(results):
            wamid = sent.wamid or f"failed:{message_id}:{time.time_ns()}"
            status = "sent" if sent.ok else "failed"
            records.append(OutboundRecord(wamid=wamid, user=user, message_id=message_id,
                                          status=status, error=error_text(sent.error)))  # fmt: skip
            if not sent.ok:
                log.error(
                    "send failed",
                    extra={"message_id": message_id, "phone": user, "error": sent.error},
                )
                if self.metrics is not None:
                    self.metrics.send_failures.inc()
        return records

    def _finish_recovered(self, job: dict[str, Any]) -> bool:
        """A job left by a process that died: True if its reply is (now) out and it is closed.

        Its turn may have run, and its reply may have been in flight when the process died: the
        Graph API may or may not have taken it, so it is sent again, once (marked in the store
        first, so a second crash cannot make it a third time)."""
        message_id, user = job["message_id"], job["user"]
        replies = []
        if self._already_sent(message_id, user):
            pass
        elif job.get("resent"):
            log.warning("recovered job: its reply was already sent again once; not a third time",
                        extra={"message_id": message_id})  # fmt: skip
        else:
            ran = self._turn_already_run(message_id, user)
            if ran is None:
                return False  # it never ran: run it now
            self.store.mark_resent(message_id)
            replies = self._replies(user, message_id, self.client.send_text(user, ran.text_out))
            if self.metrics is not None:
                self.metrics.resent.inc()
        self.store.complete_inbound(message_id, replies)
        return True

    def apologise(self, user: str, message_id: str) -> None:
        """A message given up on: ask the customer to write again (best effort, recorded)."""
        text = self.engine.runtime.current.config.templates.get("internal_error", "")
        for record in self._replies(user, message_id, self.client.send_text(user, text)):
            self.store.record_outbound(record.wamid, user, message_id, record.status, record.error)

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
                log.warning("recovered job: its reply may not have gone out; sending it again",
                            extra={"message_id": message_id})  # fmt: skip
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
