"""Runs turns off the request thread: one user's messages in arrival order, users in parallel."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger("dispatcher")


class UserOrderedDispatcher:
    """A thread pool where jobs of the same key never overlap and keep their submission order."""

    def __init__(self, workers: int = 8, synchronous: bool = False):
        self.synchronous = synchronous
        self._pool = None if synchronous else ThreadPoolExecutor(workers, thread_name_prefix="turn")
        self._queues: dict[str, deque[Callable[[], None]]] = {}
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._active = 0  # users with a runner
        self._pending = 0  # jobs queued or running

    @property
    def pending(self) -> int:
        return self._pending

    def submit(self, key: str, job: Callable[[], None]) -> None:
        if self._pool is None:
            self._run_safely(job)
            return
        with self._lock:
            self._pending += 1
            queue = self._queues.get(key)
            if queue is not None:  # a runner is already draining this user's queue
                queue.append(job)
                return
            self._queues[key] = deque([job])
            self._active += 1
        self._pool.submit(self._drain, key)

    def _drain(self, key: str) -> None:
        while True:
            with self._lock:
                queue = self._queues[key]
                if not queue:
                    del self._queues[key]
                    self._active -= 1
                    self._idle.notify_all()
                    return
                job = queue.popleft()
            self._run_safely(job)
            with self._lock:
                self._pending -= 1

    @staticmethod
    def _run_safely(job: Callable[[], None]) -> None:
        try:
            job()
        except Exception:  # one failed turn must not stop the user's later messages
            log.exception("turn job failed")

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every queued job ran (tests, graceful shutdown)."""
        with self._lock:
            return self._idle.wait_for(lambda: self._active == 0, timeout=timeout)

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
