"""Acknowledged messages are never lost: jobs left unfinished (a killed process, a store outage
mid-turn) are re-run at start and by a periodic sweep; a claim in the store gives each to one
worker."""

from __future__ import annotations

import logging
import threading
import time

from api.context import AppContext

log = logging.getLogger("recovery")
MIN_SWEEP_SECONDS = 5.0


def recover_pending(context: AppContext, older_than_seconds: float) -> int:
    """Re-run jobs acknowledged but not completed within `older_than_seconds`."""
    lease = max(older_than_seconds, MIN_SWEEP_SECONDS)
    pending = context.store.pending_inbound(older_than_seconds=older_than_seconds)
    jobs = [job for job in pending if context.store.claim_inbound(job.message_id, lease)]
    channel, dispatcher = context.extras["channel"], context.extras["dispatcher"]
    for job in jobs:
        payload = {**job.payload, "recovered": True}
        dispatcher.submit(payload["user"], lambda payload=payload: channel.process(payload))
    if jobs:
        log.warning("recovering %d unanswered messages", len(jobs))
    return len(jobs)


class Sweeper:
    """Runs recover_pending at most every half recovery window, piggybacking on webhook traffic."""

    def __init__(self, context: AppContext, clock=time.monotonic):
        self.context, self.clock = context, clock
        self.window = context.settings.recover_after_seconds
        self.every = max(self.window / 2, MIN_SWEEP_SECONDS)
        self._last = clock()
        self._lock = threading.Lock()

    def maybe_sweep(self) -> int:
        with self._lock:
            now = self.clock()
            if now - self._last < self.every:
                return 0
            self._last = now
        try:
            return recover_pending(self.context, self.window)
        except Exception:  # the store may still be down: the next sweep tries again
            log.exception("recovery sweep failed")
            return 0
