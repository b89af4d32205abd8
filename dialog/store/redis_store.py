"""Redis store: for several gunicorn workers or several hosts. State, history, dedupe with a TTL,
pending jobs, outbound status and per-user locks live in Redis under one key prefix."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import redis

from dialog.state import ConversationState
from dialog.store.base import (
    DEDUPE_TTL_SECONDS,
    Handoff,
    InboundJob,
    OutboundRecord,
    Store,
    StoreSummary,
    Turn,
    UserSummary,
    error_text,
)

log = logging.getLogger("store.redis")
HISTORY_LIMIT = 500
OUTBOUND_TTL_SECONDS = 30 * 24 * 3600
LOCK_TIMEOUT_SECONDS = 30
# Dedupe and job in one atomic step: a process dying between the two would otherwise leave the id
# marked as seen with no job, and Meta's redelivery of that message would be dropped as a duplicate.
ENQUEUE_SCRIPT = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[4]) then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
  return 1
end
return 0
"""


class RedisStore(Store):
    def __init__(self, url: str, prefix: str = "kavak:"):
        self.url, self.prefix = url, prefix
        self.client = redis.Redis.from_url(
            url, decode_responses=True, socket_timeout=5, socket_connect_timeout=5,
            health_check_interval=30, retry_on_timeout=True,
        )  # fmt: skip
        self._enqueue = self.client.register_script(ENQUEUE_SCRIPT)

    def _key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def load_state(self, user: str) -> ConversationState | None:
        raw = self.client.get(self._key("state", user))
        return ConversationState.model_validate_json(raw) if raw else None

    def save_state(self, state: ConversationState) -> None:
        pipe = self.client.pipeline()
        pipe.set(self._key("state", state.user), state.model_dump_json())
        pipe.zadd(self._key("users"), {state.user: state.updated_at.timestamp()})
        pipe.execute()

    def append_turn(self, turn: Turn) -> None:
        pipe = self.client.pipeline()
        self._queue_turn(pipe, turn)
        pipe.execute()

    def save_turn(self, state: ConversationState, turn: Turn) -> None:
        pipe = self.client.pipeline()  # one round trip, applied atomically (MULTI/EXEC)
        pipe.set(self._key("state", state.user), state.model_dump_json())
        pipe.zadd(self._key("users"), {state.user: state.updated_at.timestamp()})
        self._queue_turn(pipe, turn)
        pipe.execute()

    def _queue_turn(self, pipe, turn: Turn) -> None:
        key = self._key("history", turn.user)
        pipe.rpush(key, turn.model_dump_json())
        pipe.ltrim(key, -HISTORY_LIMIT, -1)
        pipe.hincrby(self._key("intents"), turn.intent or "none", 1)

    def history(self, user: str, limit: int = 50) -> list[Turn]:
        rows = self.client.lrange(self._key("history", user), -limit, -1)
        return [Turn.model_validate_json(row) for row in rows]

    def add_handoff(self, handoff: Handoff) -> None:
        self.client.rpush(self._key("handoffs"), handoff.model_dump_json())

    def handoffs(self, limit: int = 100) -> list[Handoff]:
        rows = self.client.lrange(self._key("handoffs"), -limit, -1)
        return [Handoff.model_validate_json(row) for row in rows]

    def users(self) -> list[UserSummary]:
        ranked = self.client.zrevrange(self._key("users"), 0, -1, withscores=True)
        result = []
        for user, at in ranked:
            state = self.load_state(user)
            turns = state.turns if state else 0
            result.append(UserSummary(user=user, last_activity=_datetime(at), turns=turns))
        return result

    def delete_user(self, user: str) -> bool:
        pipe = self.client.pipeline()
        pipe.delete(self._key("state", user))
        pipe.delete(self._key("history", user))
        pipe.zrem(self._key("users"), user)
        deleted = pipe.execute()
        return bool(deleted[0])

    @contextmanager
    def user_lock(self, user: str) -> Iterator[None]:
        lock = self.client.lock(
            self._key("lock", user),
            timeout=LOCK_TIMEOUT_SECONDS,
            blocking_timeout=LOCK_TIMEOUT_SECONDS,
            sleep=0.005,  # redis-py polls a held lock; its 0.1 s default delays the next message
            thread_local=False,
        )
        if not lock.acquire():
            raise TimeoutError(f"could not lock user {user[-4:]} within {LOCK_TIMEOUT_SECONDS}s")
        try:
            yield
        finally:
            try:
                lock.release()
            except redis.exceptions.LockError:
                log.warning(
                    "user lock expired before release (turn took > %ss)", LOCK_TIMEOUT_SECONDS
                )

    def enqueue_inbound(self, message_id: str, user: str, payload: dict[str, Any]) -> bool:
        now = time.time()
        job = InboundJob(message_id=message_id, user=user, payload=payload,
                         received_at=_datetime(now))  # fmt: skip
        keys = [self._key("seen", message_id), self._key("pending"), self._key("pending_at")]
        args = [message_id, job.model_dump_json(), now, DEDUPE_TTL_SECONDS]
        return bool(self._enqueue(keys=keys, args=args))

    def pending_inbound(self, older_than_seconds: float = 0.0) -> list[InboundJob]:
        ids = self.client.zrangebyscore(
            self._key("pending_at"), "-inf", time.time() - older_than_seconds
        )
        if not ids:
            return []
        rows = self.client.hmget(self._key("pending"), ids)
        return [InboundJob.model_validate_json(row) for row in rows if row]

    def claim_inbound(self, message_id: str, lease_seconds: float) -> bool:
        if not self.client.hexists(self._key("pending"), message_id):
            return False
        lease = max(1, int(lease_seconds))
        return bool(self.client.set(self._key("claim", message_id), "1", nx=True, ex=lease))

    def complete_inbound(self, message_id: str, replies: Sequence[OutboundRecord] = ()) -> None:
        pipe = self.client.pipeline()  # MULTI/EXEC: the replies and the closed job, or neither
        for record in replies:
            self._queue_outbound(pipe, record)
        pipe.hdel(self._key("pending"), message_id)
        pipe.zrem(self._key("pending_at"), message_id)
        pipe.execute()

    def record_outbound(self, wamid, user, message_id, status="sent", error=None) -> None:
        record = OutboundRecord(
            wamid=wamid, user=user, message_id=message_id, status=status, error=error_text(error)
        )
        pipe = self.client.pipeline()
        self._queue_outbound(pipe, record)
        pipe.execute()

    def _queue_outbound(self, pipe, record: OutboundRecord) -> None:
        pipe.set(self._key("out", record.wamid), record.model_dump_json(), ex=OUTBOUND_TTL_SECONDS)
        pipe.zadd(self._key("outbound"), {record.wamid: record.updated_at.timestamp()})

    def update_outbound_status(self, wamid: str, status: str, error: object = None) -> bool:
        raw = self.client.get(self._key("out", wamid))
        if raw is None:
            return False
        record = OutboundRecord.model_validate_json(raw)
        record.status, record.error = status, error_text(error)
        record.updated_at = datetime.now(UTC)
        self.client.set(self._key("out", wamid), record.model_dump_json(), keepttl=True)
        return True

    def outbound(self, user: str | None = None, limit: int = 100) -> list[OutboundRecord]:
        wamids = self.client.zrevrange(self._key("outbound"), 0, max(limit * 10, 1000))
        if not wamids:
            return []
        rows = self.client.mget([self._key("out", wamid) for wamid in wamids])
        records = [OutboundRecord.model_validate_json(row) for row in rows if row]
        records = [r for r in records if user is None or r.user == user][:limit]
        return sorted(records, key=lambda record: record.updated_at)

    def prune(self, hours: float) -> int:
        cutoff = time.time() - hours * 3600
        stale = self.client.zrangebyscore(self._key("users"), "-inf", cutoff)
        return sum(self.delete_user(user) for user in stale)

    def summary(self) -> StoreSummary:
        counts = {intent: int(n) for intent, n in self.client.hgetall(self._key("intents")).items()}
        return StoreSummary(
            users=self.client.zcard(self._key("users")),
            turns=sum(counts.values()),
            handoffs=self.client.llen(self._key("handoffs")),
            turns_by_intent=counts,
        )

    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except redis.exceptions.RedisError:
            return False

    def close(self) -> None:
        self.client.close()

    def clear(self) -> None:
        """Delete every key of this prefix (tests, and `make clean` of a dev Redis)."""
        keys = list(self.client.scan_iter(match=self.prefix + "*", count=1000))
        for start in range(0, len(keys), 500):
            self.client.delete(*keys[start : start + 500])


def _datetime(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)
