"""Acknowledged messages, from the webhook's 200 to their reply.

Each job is leased in the store by the process that accepted it; the lease is renewed while the job
waits in the dispatcher or runs, so no other process touches it. Recovery (at start and on a timer,
whatever the traffic) takes only jobs whose lease lapsed, because their process died or hung, and
never one this process holds. A job whose runs keep failing goes to the dead letters after
MAX_JOB_ATTEMPTS, and its customer gets the polite "please write again".
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from typing import Any

from dialog.store import STORE_UNAVAILABLE
from dialog.store.base import InboundJob, Lease, Store

log = logging.getLogger("jobs")
RATE_WINDOW_SECONDS = 60
MIN_LEASE_SECONDS = 1.0
MIN_TICK_SECONDS = 1.0  # renewals and recovery sweeps happen at most this often


def process_owner() -> str:
    """This process's name on its leases (host, pid and a nonce: a pid is reused after restarts)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class JobQueue:
    """Leases, runs and recovers the jobs of one process (one per app; gunicorn: one per worker)."""

    def __init__(self, store: Store, channel: Any, dispatcher: Any, settings: Any,
                 metrics: Any = None, send_seconds: float = 0.0):  # fmt: skip
        self.store, self.channel, self.dispatcher = store, channel, dispatcher
        self.metrics = metrics
        seconds = max(settings.recover_after_seconds, MIN_LEASE_SECONDS)
        self.lease = Lease(owner=process_owner(), seconds=seconds)
        self.max_attempts = settings.max_job_attempts
        self.max_queued = settings.max_queued_messages
        self.messages_per_minute = settings.messages_per_minute  # per customer; 0: no limit
        self.send_seconds = send_seconds  # the longest one reply can be in flight
        self.every = max(seconds / 3, MIN_TICK_SECONDS)
        self._held: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def has_room(self) -> bool:
        """False when this process already holds MAX_QUEUED_MESSAGES jobs (memory is bounded)."""
        return self.dispatcher.pending < self.max_queued

    def accept(self, job: dict[str, Any]) -> bool:
        """Store a new message as this process's job and queue it; False for a redelivery."""
        window = RATE_WINDOW_SECONDS if self.messages_per_minute else 0
        count = self.store.enqueue_counted(job["message_id"], job["user"], job, self.lease, window)
        if not count:
            return False
        self._submit({**job, "throttle": self._throttle(count)})
        return True

    def _throttle(self, count: int) -> str:
        """'' within the customer's rate (this is their count-th message this minute); 'notice'
        for the first over it (told to wait); 'silent' for the rest of that minute (closed
        without a reply or a turn)."""
        if not self.messages_per_minute or count <= self.messages_per_minute:
            return ""
        if self.metrics is not None:
            self.metrics.rate_limited.inc()
        return "notice" if count == self.messages_per_minute + 1 else "silent"

    def recover(self) -> int:
        """Take the jobs whose lease lapsed and queue them here; how many."""
        taken, room = 0, max(0, self.max_queued - self.dispatcher.pending)
        for job in self.store.expired_inbound(limit=room):
            if self._holds(job.message_id) or self._reply_may_be_in_flight(job):
                continue
            if job.attempts >= self.max_attempts:
                self._bury(job)
            elif self.store.claim_inbound(job.message_id, self.lease):
                self._submit({**job.payload, "message_id": job.message_id, "user": job.user,
                              "recovered": True, "resent": job.resent})  # fmt: skip
                taken += 1
        if taken:
            log.warning("recovering %d unanswered messages", taken)
        return taken

    def renew(self) -> int:
        with self._lock:
            held = list(self._held)
        return self.store.renew_leases(held, self.lease) if held else 0

    def start(self) -> None:
        """Renew leases and recover on a timer, from now until stop()."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._tick, name="jobs", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _tick(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.renew()
                self.recover()
            except STORE_UNAVAILABLE as error:  # the store is down: the next tick tries again
                log.warning("lease renewal or recovery failed: %s", type(error).__name__)
            except Exception:  # a bug here must not end the timer
                log.exception("lease renewal or recovery failed")

    def _holds(self, message_id: str) -> bool:
        with self._lock:
            return message_id in self._held

    def _reply_may_be_in_flight(self, job: InboundJob) -> bool:
        """Its reply went out less than one send's worst case ago: that send may still land."""
        if job.sending_since is None:
            return False
        return time.time() - job.sending_since.timestamp() < self.send_seconds

    def _submit(self, job: dict[str, Any]) -> None:
        with self._lock:
            self._held.add(job["message_id"])
        self.dispatcher.submit(job["user"], lambda: self._run(job))

    def _run(self, job: dict[str, Any]) -> None:
        message_id = job["message_id"]
        try:
            self.channel.process(job)
        except Exception as error:  # one failing job must not stop the user's later messages
            log.exception("job failed", extra={"message_id": message_id, "phone": job["user"]})
            self._release(message_id, error)
        finally:
            with self._lock:
                self._held.discard(message_id)

    def _release(self, message_id: str, error: Exception) -> None:
        try:
            self.store.release_inbound(
                message_id, self.lease.owner, f"{type(error).__name__}: {error}"
            )
        except STORE_UNAVAILABLE:  # the lease then lapses by itself and recovery retries the job
            log.warning("could not release a failed job", extra={"message_id": message_id})

    def _bury(self, job: InboundJob) -> None:
        reason = (
            f"gave up after {job.attempts} attempts; last error: {job.error or 'none recorded'}"
        )
        self.store.bury_inbound(job.message_id, reason)
        log.error(
            "message moved to the dead letters (GET /admin/dead-letters)",
            extra={"message_id": job.message_id, "phone": job.user, "attempts": job.attempts},
        )
        if self.metrics is not None:
            self.metrics.dead_letters.inc()
        self.channel.apologise(job.user, job.message_id)
