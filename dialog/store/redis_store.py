"""Redis store: for several gunicorn workers or several hosts. State, history, dedupe with a TTL,
pending jobs and their leases, outbound status and per-user locks live in Redis under one prefix.

A job is a hash `job:<id>` (user, payload, received_at, owner, attempts, sending_since, resent,
error); `pending_at` orders the pending ones by arrival and `lease_until` by lease expiry (0: no
lease), which is what recovery reads; `dead` lists the ones given up on."""

from __future__ import annotations

import json
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
    DeadLetter,
    Handoff,
    InboundJob,
    Lease,
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
# msgs:<user> lists the user's message ids (their dedupe keys and jobs go when the user is deleted).
# KEYS: seen, job, pending_at, lease_until, msgs. ARGV: id, user, payload, now, ttl, owner, until,
# attempts
ENQUEUE_SCRIPT = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[5]) then
  redis.call('HSET', KEYS[2], 'user', ARGV[2], 'payload', ARGV[3], 'received_at', ARGV[4],
             'owner', ARGV[6], 'attempts', ARGV[8])
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
  redis.call('ZADD', KEYS[4], ARGV[7], ARGV[1])
  redis.call('ZADD', KEYS[5], ARGV[4], ARGV[1])
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', ARGV[4] - ARGV[5])
  redis.call('EXPIRE', KEYS[5], ARGV[5])
  return 1
end
return 0
"""
# Events of one user in one scope, in a window that starts with the first of them; the user's
# counters share one hash (counts:<user>, deleted with the user). KEYS: counts. ARGV: scope, now,
# window, kept seconds
COUNT_SCRIPT = """
local started = tonumber(redis.call('HGET', KEYS[1], ARGV[1] .. ':started') or '0')
local count
if started <= tonumber(ARGV[2]) - tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], ARGV[1] .. ':started', ARGV[2], ARGV[1] .. ':n', 1)
  count = 1
else
  count = redis.call('HINCRBY', KEYS[1], ARGV[1] .. ':n', 1)
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
return count
"""
COUNTERS_KEPT_SECONDS = 24 * 3600
# Everything kept about one user. ARGV: key prefix, user
DELETE_USER_SCRIPT = """
local p, u = ARGV[1], ARGV[2]
local existed = redis.call('EXISTS', p .. 'state:' .. u, p .. 'history:' .. u)
for _, id in ipairs(redis.call('ZRANGE', p .. 'msgs:' .. u, 0, -1)) do
  redis.call('DEL', p .. 'seen:' .. id, p .. 'job:' .. id)
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
redis.call('DEL', p .. 'state:' .. u, p .. 'history:' .. u, p .. 'msgs:' .. u,
           p .. 'outbound_by:' .. u, p .. 'lock:' .. u, p .. 'counts:' .. u)
redis.call('ZREM', p .. 'users', u)
return existed
"""
# A job whose lease lapsed becomes the caller's. KEYS: job, lease_until. ARGV: id, owner, until, now
CLAIM_SCRIPT = """
local expiry = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not expiry or tonumber(expiry) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[1], 'owner', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
return 1
"""
# KEYS: lease_until. ARGV: owner, until, job key prefix, ids...
RENEW_SCRIPT = """
local renewed = 0
for i = 4, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) and
     redis.call('HGET', ARGV[3] .. ARGV[i], 'owner') == ARGV[1] then
    redis.call('ZADD', KEYS[1], ARGV[2], ARGV[i])
    renewed = renewed + 1
  end
end
return renewed
"""
# KEYS: job, lease_until. ARGV: id, owner, error
RELEASE_SCRIPT = """
if redis.call('ZSCORE', KEYS[2], ARGV[1]) and redis.call('HGET', KEYS[1], 'owner') == ARGV[2] then
  redis.call('ZADD', KEYS[2], 0, ARGV[1])
  redis.call('HSET', KEYS[1], 'error', ARGV[3])
end
return 0
"""
# A field of a job that is still pending (a finished job's hash must not come back).
# KEYS: job, lease_until. ARGV: id, field, value
SET_IF_PENDING_SCRIPT = """
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then redis.call('HSET', KEYS[1], ARGV[2], ARGV[3]) end
return 0
"""
# KEYS: job, pending_at, lease_until, dead. ARGV: id, now, error
BURY_SCRIPT = """
if not redis.call('ZSCORE', KEYS[3], ARGV[1]) then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HSET', KEYS[1], 'error', ARGV[3], 'dead_at', ARGV[2])
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
return 1
"""


class RedisStore(Store):
    def __init__(self, url: str, prefix: str = "kavak:"):
        self.url, self.prefix = url, prefix
        self.client = redis.Redis.from_url(
            url, decode_responses=True, socket_timeout=5, socket_connect_timeout=5,
            health_check_interval=30, retry_on_timeout=True,
        )  # fmt: skip
        self._enqueue = self.client.register_script(ENQUEUE_SCRIPT)
        self._claim = self.client.register_script(CLAIM_SCRIPT)
        self._renew = self.client.register_script(RENEW_SCRIPT)
        self._release = self.client.register_script(RELEASE_SCRIPT)
        self._set_if_pending = self.client.register_script(SET_IF_PENDING_SCRIPT)
        self._bury = self.client.register_script(BURY_SCRIPT)
        self._delete_user = self.client.register_script(DELETE_USER_SCRIPT)
        self._count = self.client.register_script(COUNT_SCRIPT)
        self._migrated = False

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
            self._job_field(turn.message_id, "sending_since", turn.at.timestamp(), pipe)
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

    def enqueue_inbound(
        self, message_id: str, user: str, payload: dict[str, Any], lease: Lease | None = None
    ) -> bool:
        now = time.time()
        keys = [self._key("seen", message_id), self._key("job", message_id),
                self._key("pending_at"), self._key("lease_until"),
                self._key("msgs", user)]  # fmt: skip
        args = [message_id, user, json.dumps(payload, ensure_ascii=False), now,
                DEDUPE_TTL_SECONDS, lease.owner if lease else "",
                lease.until(now) if lease else 0, int(lease is not None)]  # fmt: skip
        return bool(self._enqueue(keys=keys, args=args))

    def pending_inbound(self, older_than_seconds: float = 0.0) -> list[InboundJob]:
        ids = self.client.zrangebyscore(
            self._key("pending_at"), "-inf", time.time() - older_than_seconds
        )
        return self._jobs(ids)

    def expired_inbound(self, limit: int = 1000) -> list[InboundJob]:
        if not self._migrated:
            self._migrate_pending()
        ids = self.client.zrangebyscore(
            self._key("lease_until"), "-inf", f"({time.time()}", start=0, num=limit
        )
        return sorted(self._jobs(ids), key=lambda job: job.received_at)

    def _migrate_pending(self) -> None:
        """Jobs left by a version that kept them as JSON in one hash (`pending`): unleased jobs."""
        for message_id, raw in self.client.hgetall(self._key("pending")).items():
            job = InboundJob.model_validate_json(raw)
            received = job.received_at.timestamp()
            pipe = self.client.pipeline()
            pipe.hset(self._key("job", message_id), mapping={
                "user": job.user, "payload": json.dumps(job.payload, ensure_ascii=False),
                "received_at": received, "owner": "", "attempts": 0})  # fmt: skip
            pipe.zadd(self._key("pending_at"), {message_id: received})
            pipe.zadd(self._key("lease_until"), {message_id: 0})
            pipe.hdel(self._key("pending"), message_id)
            pipe.execute()
        self._migrated = True

    def _jobs(self, ids: list[str]) -> list[InboundJob]:
        pipe = self.client.pipeline(transaction=False)
        for message_id in ids:
            pipe.hgetall(self._key("job", message_id))
        return [_job(mid, fields) for mid, fields in zip(ids, pipe.execute(), strict=True)
                if fields]  # fmt: skip

    def claim_inbound(self, message_id: str, lease: Lease) -> bool:
        now = time.time()
        keys = [self._key("job", message_id), self._key("lease_until")]
        return bool(self._claim(keys=keys, args=[message_id, lease.owner, lease.until(now), now]))

    def renew_leases(self, message_ids: Sequence[str], lease: Lease) -> int:
        ids, renewed = list(message_ids), 0
        for start in range(0, len(ids), 500):
            args = [lease.owner, lease.until(time.time()), self._key("job", ""),
                    *ids[start : start + 500]]  # fmt: skip
            renewed += int(self._renew(keys=[self._key("lease_until")], args=args))
        return renewed

    def release_inbound(self, message_id: str, owner: str, error: str) -> None:
        keys = [self._key("job", message_id), self._key("lease_until")]
        self._release(keys=keys, args=[message_id, owner, error_text(error) or ""])

    def mark_sending(self, message_id: str, at: datetime) -> None:
        self._job_field(message_id, "sending_since", at.timestamp())

    def mark_resent(self, message_id: str) -> None:
        self._job_field(message_id, "resent", 1)

    def _job_field(self, message_id: str, field: str, value: object, client=None) -> None:
        keys = [self._key("job", message_id), self._key("lease_until")]
        self._set_if_pending(keys=keys, args=[message_id, field, value], client=client)

    def bury_inbound(self, message_id: str, error: str) -> None:
        keys = [self._key("job", message_id), self._key("pending_at"),
                self._key("lease_until"), self._key("dead")]  # fmt: skip
        self._bury(keys=keys, args=[message_id, time.time(), error_text(error) or ""])

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        ids = self.client.zrevrange(self._key("dead"), 0, limit - 1)
        pipe = self.client.pipeline(transaction=False)
        for message_id in ids:
            pipe.hgetall(self._key("job", message_id))
        return [
            DeadLetter(message_id=mid, user=fields["user"], payload=json.loads(fields["payload"]),
                       attempts=int(fields.get("attempts") or 0), error=fields.get("error"),
                       at=_datetime(float(fields["dead_at"])))
            for mid, fields in zip(ids, pipe.execute(), strict=True) if fields
        ]  # fmt: skip

    def complete_inbound(self, message_id: str, replies: Sequence[OutboundRecord] = ()) -> None:
        pipe = self.client.pipeline()  # MULTI/EXEC: the replies and the closed job, or neither
        for record in replies:
            self._queue_outbound(pipe, record)
        pipe.delete(self._key("job", message_id))
        pipe.zrem(self._key("pending_at"), message_id)
        pipe.zrem(self._key("lease_until"), message_id)
        pipe.execute()

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


def _job(message_id: str, fields: dict[str, str]) -> InboundJob:
    sending = fields.get("sending_since")
    return InboundJob(
        message_id=message_id, user=fields["user"], payload=json.loads(fields["payload"]),
        received_at=_datetime(float(fields["received_at"])),
        attempts=int(fields.get("attempts") or 0),
        sending_since=_datetime(float(sending)) if sending else None,
        resent=fields.get("resent") == "1", error=fields.get("error") or None,
    )  # fmt: skip


def _datetime(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)
