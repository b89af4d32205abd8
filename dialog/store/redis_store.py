"""Redis store: for several gunicorn workers or several hosts. State, history, dedupe with a TTL,
pending jobs and their leases (redis_inbound.py), outbound status, counters and per-user locks live
in Redis under one prefix."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import redis

from dialog.state import ConversationState
from dialog.store.base import (
    COUNTERS_KEPT_SECONDS,
    Handoff,
    OutboundRecord,
    Store,
    StoreSummary,
    Turn,
    UserSummary,
    as_datetime,
    error_text,
)
from dialog.store.redis_inbound import COUNT_LUA, RedisInbound

log = logging.getLogger("store.redis")
HISTORY_LIMIT = 500
OUTBOUND_TTL_SECONDS = 30 * 24 * 3600
LOCK_TIMEOUT_SECONDS = 30
# KEYS: counts. ARGV: scope, now, window, kept seconds
COUNT_SCRIPT = (
    COUNT_LUA
    + """
return count_event(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
"""
)
# Everything kept about one user. ARGV: key prefix, user
DELETE_USER_SCRIPT = """
local p, u = ARGV[1], ARGV[2]
local existed = redis.call('EXISTS', p .. 'state:' .. u, p .. 'history:' .. u)
for _, id in ipairs(redis.call('ZRANGE', p .. 'msgs:' .. u, 0, -1)) do
  redis.call('DEL', p .. 'seen:' .. id, p .. 'job:' .. id)
  redis.call('HDEL', p .. 'sending', id)
  for _, index in ipairs({'pending_at', 'lease_until', 'dead'}) do
    redis.call('ZREM', p .. index, id)
  end
end
for _, wamid in ipairs(redis.call('ZRANGE', p .. 'outbound_by:' .. u, 0, -1)) do
  redis.call('DEL', p .. 'out:' .. wamid)
  redis.call('ZREM', p .. 'outbound', wamid)
end
for _, item in ipairs(redis.call('LRANGE', p .. 'handoffs', 0, -1)) do
  local ok, handoff = pcall(cjson.decode, item)
  if ok and handoff.user == u then redis.call('LREM', p .. 'handoffs', 0, item) end
end
for _, entry in ipairs(redis.call('SMEMBERS', p .. 'console_by:' .. u)) do
  local sep = string.find(entry, ':', 1, true)
  redis.call('HDEL', p .. 'console:' .. string.sub(entry, 1, sep - 1), string.sub(entry, sep + 1))
end
redis.call('DEL', p .. 'state:' .. u, p .. 'history:' .. u, p .. 'msgs:' .. u,
           p .. 'outbound_by:' .. u, p .. 'lock:' .. u, p .. 'counts:' .. u,
           p .. 'console_by:' .. u)
redis.call('ZREM', p .. 'users', u)
return existed
"""


class RedisStore(RedisInbound, Store):
    def __init__(self, url: str, prefix: str = "kavak:"):
        self.url, self.prefix = url, prefix
        self.client = redis.Redis.from_url(
            url, decode_responses=True, socket_timeout=5, socket_connect_timeout=5,
            health_check_interval=30, retry_on_timeout=True,
        )  # fmt: skip
        self._register_inbound_scripts()
        self._delete_user = self.client.register_script(DELETE_USER_SCRIPT)
        self._count = self.client.register_script(COUNT_SCRIPT)

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
        if turn.message_id:
            self.queue_sending(pipe, turn.message_id, turn.at)
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
            result.append(UserSummary(user=user, last_activity=as_datetime(at), turns=turns))
        return result

    def delete_user(self, user: str) -> bool:
        """Everything kept about the user: state, history, handoffs, messages in and out."""
        return bool(self._delete_user(args=[self.prefix, user]))

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

    def record_outbound(self, wamid, user, message_id, status="sent", error=None) -> None:
        record = OutboundRecord(
            wamid=wamid, user=user, message_id=message_id, status=status, error=error_text(error)
        )
        pipe = self.client.pipeline()
        self._queue_outbound(pipe, record)
        pipe.execute()

    def _queue_outbound(self, pipe, record: OutboundRecord) -> None:
        at = record.updated_at.timestamp()
        pipe.set(self._key("out", record.wamid), record.model_dump_json(), ex=OUTBOUND_TTL_SECONDS)
        pipe.zadd(self._key("outbound"), {record.wamid: at})
        by_user = self._key("outbound_by", record.user)  # what delete_user must find
        pipe.zadd(by_user, {record.wamid: at})
        pipe.zremrangebyscore(by_user, "-inf", at - OUTBOUND_TTL_SECONDS)
        pipe.expire(by_user, OUTBOUND_TTL_SECONDS)

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
        index = self._key("outbound") if user is None else self._key("outbound_by", user)
        wamids = self.client.zrevrange(index, 0, limit - 1)
        if not wamids:
            return []
        rows = self.client.mget([self._key("out", wamid) for wamid in wamids])
        records = [OutboundRecord.model_validate_json(row) for row in rows if row]
        return sorted(records, key=lambda record: record.updated_at)

    def count_event(self, scope: str, user: str, window_seconds: int) -> int:
        args = [scope, time.time(), window_seconds, COUNTERS_KEPT_SECONDS]
        return int(self._count(keys=[self._key("counts", user)], args=args))

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

    def console_put(
        self, kind: str, key: str, value: dict[str, Any], user: str | None = None
    ) -> None:
        pipe = self.client.pipeline()
        pipe.hset(self._key("console", kind), key, json.dumps(value, default=str))
        if user is not None:  # what delete_user must find
            pipe.sadd(self._key("console_by", user), f"{kind}:{key}")
        pipe.execute()

    def console_get(self, kind: str, key: str) -> dict[str, Any] | None:
        raw = self.client.hget(self._key("console", kind), key)
        return json.loads(raw) if raw else None

    def console_all(self, kind: str) -> dict[str, dict[str, Any]]:
        rows = self.client.hgetall(self._key("console", kind))
        return {key: json.loads(raw) for key, raw in rows.items()}

    def console_turns(self, since: datetime) -> Iterator[Turn]:
        """Every history of a user active since then, 500 users per round trip."""
        users = self.client.zrangebyscore(self._key("users"), since.timestamp(), "+inf")
        for start in range(0, len(users), 500):
            pipe = self.client.pipeline(transaction=False)
            for user in users[start : start + 500]:
                pipe.lrange(self._key("history", user), 0, -1)
            for rows in pipe.execute():
                for row in rows:
                    turn = Turn.model_validate_json(row)
                    if turn.at >= since:
                        yield turn

    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except redis.exceptions.RedisError:
            return False

    def durability_problems(self) -> list[str]:
        """Neither an append-only file nor snapshots: a Redis restart forgets everything."""
        try:
            appendonly = self.client.config_get("appendonly").get("appendonly")
            save = self.client.config_get("save").get("save")
        except redis.exceptions.ResponseError:  # CONFIG renamed or disabled (managed Redis)
            log.warning("cannot check Redis persistence (CONFIG is disabled): keep AOF on")
            return []
        if appendonly == "yes" or save:
            return []
        return [
            f"Redis at {self.url.split('@')[-1]} has no persistence (appendonly no, save ''): "
            "a restart loses acknowledged messages and conversations; run it with "
            "appendonly yes (docker-compose.yml does)"
        ]

    def close(self) -> None:
        self.client.close()

    def clear(self) -> None:
        """Delete every key of this prefix (tests, and `make clean` of a dev Redis)."""
        keys = list(self.client.scan_iter(match=self.prefix + "*", count=1000))
        for start in range(0, len(keys), 500):
            self.client.delete(*keys[start : start + 500])
