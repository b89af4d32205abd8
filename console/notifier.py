"""LEAD_WEBHOOK_URL: each new lead (and each correction of one) is POSTed as JSON, signed with
HMAC-SHA256 of the body under LEAD_WEBHOOK_SECRET (`X-Signature: sha256=<hex>`), retried with
exponential backoff on connection errors, 429 and 5xx (urllib3's Retry), in a background thread
so a turn never waits on a CRM. The outcome is kept per lead (the console shows failures and can
send again) and counted in /metrics (`kavak_lead_webhooks_total{outcome}`)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
from datetime import UTC, datetime

import urllib3
from urllib3.util.retry import Retry

from api.context import AppContext
from console.leads import DELIVERY, Delivery, car_fields
from dialog.store import STORE_UNAVAILABLE
from dialog.store.base import Handoff

log = logging.getLogger("console.leads")
TIMEOUT_SECONDS = 10.0
RETRY_STATUSES = (429, 500, 502, 503, 504)


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class LeadNotifier:
    """Sends leads to the CRM one at a time, off the turn's thread; idle without a URL."""

    def __init__(self, context: AppContext):
        self.context = context
        settings = context.settings
        self.url, self.secret = settings.lead_webhook_url, settings.lead_webhook_secret
        self.retry = Retry(
            total=settings.lead_webhook_retries,
            backoff_factor=settings.lead_webhook_backoff,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"POST"}),
            raise_on_status=False,
            respect_retry_after_header=True,
        )
        self.http = urllib3.PoolManager(timeout=urllib3.Timeout(total=TIMEOUT_SECONDS))
        self._queue: queue.Queue[Handoff] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    def notify(self, handoff: Handoff) -> None:
        """The engine's handoff listener, and the console's resend: mark the lead pending and
        queue it (the turn or the request goes on at once)."""
        if not self.enabled:
            return
        self._record(handoff, Delivery(state="pending"))
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="lead-webhook", daemon=True)
                self._thread.start()
        self._queue.put(handoff)

    def _run(self) -> None:
        while True:
            handoff = self._queue.get()
            try:
                self.deliver(handoff)
            except Exception:  # a bug here must not end the thread
                log.exception("lead delivery failed", extra={"user": handoff.user})
            finally:
                self._queue.task_done()

    def wait(self) -> None:
        """Until every queued lead was tried (tests, shutdown)."""
        self._queue.join()

    def payload(self, handoff: Handoff, event: str) -> bytes:
        lead = handoff.model_dump(mode="json")
        car = car_fields(self.context, handoff)
        body = {
            "event": event,
            "sent_at": datetime.now(UTC).isoformat(),
            "lead": lead,
            "car": {"stock_id": handoff.stock_id, **car} if car else None,
        }
        return json.dumps(body, ensure_ascii=False, default=str).encode("utf-8")

    def deliver(self, handoff: Handoff) -> Delivery:
        """POST one lead (retries included) and keep the outcome."""
        event = "lead.updated" if self._sent_before(handoff.user) else "lead.created"
        body = self.payload(handoff, event)
        headers = {
            "Content-Type": "application/json",
            "X-Signature": signature(self.secret, body),
            "X-Lead-Event": event,
        }
        try:
            response = self.http.request(
                "POST", self.url, body=body, headers=headers, retries=self.retry.new()
            )
        except urllib3.exceptions.HTTPError as error:  # connection refused, timeouts, retries spent
            attempts = self.retry.total + 1 if isinstance(self.retry.total, int) else 1
            outcome = Delivery(state="failed", attempts=attempts, error=type(error).__name__)
        else:
            attempts = len(response.retries.history) + 1 if response.retries else 1
            ok = 200 <= response.status < 300
            outcome = Delivery(
                state="sent" if ok else "failed",
                attempts=attempts,
                http_status=response.status,
                error="" if ok else f"HTTP {response.status}",
            )
        self._record(handoff, outcome)
        return outcome

    def _sent_before(self, user: str) -> bool:
        """Whether an earlier handoff of this customer reached the CRM (then this corrects it)."""
        earlier = self.context.store.console_get(DELIVERY, user) or {}
        return bool(earlier.get("delivered"))

    def _record(self, handoff: Handoff, outcome: Delivery) -> None:
        metrics = self.context.metrics
        if metrics is not None and outcome.state != "pending":
            metrics.lead_webhooks.labels(outcome=outcome.state).inc()
        if outcome.state == "failed":
            log.error(
                "lead not delivered to LEAD_WEBHOOK_URL: %s after %d attempts",
                outcome.error,
                outcome.attempts,
                extra={"user": handoff.user},
            )
        try:
            outcome.delivered = outcome.state == "sent" or self._sent_before(handoff.user)
            value = outcome.model_dump(mode="json")
            self.context.store.console_put(DELIVERY, handoff.user, value, user=handoff.user)
        except STORE_UNAVAILABLE as error:
            log.warning("could not record a lead delivery: %s", type(error).__name__)
