"""The inbound jobs of the Redis store: acknowledged messages, their leases and attempts, the mark
that their reply is being sent, dead letters.

A job is a hash `job:<id>` (user, payload, received_at, owner, attempts, resent, error);
`pending_at` orders the pending ones by arrival and `lease_until` by lease expiry (0: no lease),
which is what recovery reads; `sending` holds when each job's reply started going out (a plain
hash: it is written in the pipeline that saves the turn, where a script would cost redis-py a
SCRIPT EXISTS round trip); `dead` lists the jobs given up on; `msgs:<user>` the user's message ids,
for deleting them with the user."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from dialog.store.base import (
    COUNTERS_KEPT_SECONDS,
    DEDUPE_TTL_SECONDS,
    DeadLetter,
    InboundJob,
    Lease,
    OutboundRecord,
    as_datetime,
    error_text,
)

# Events of one user in one scope, in a window that starts with the first of them; the user's
# counters share one hash (counts:<user>, deleted with the user).
COUNT_LUA = """
local function count_event(counts, scope, now, window, kept)
  local started = tonumber(redis.call('HGET', counts, scope .. ':started') or '0')
  local count
  if started <= tonumber(now) - tonumber(window) then
    redis.call('HSET', counts, scope .. ':started', now, scope .. ':n', 1)
    count = 1
  else
    count = redis.call('HINCRBY', counts, scope .. ':n', 1)
  end
  redis.call('EXPIRE', counts, kept)
  return count
end
"""
# Dedupe and job in one atomic step: a process dying between the two would otherwise leave the id
# marked as seen with no job, and Meta's redelivery of that message would be dropped as a duplicate.
# msgs:<user> lists the user's message ids (their dedupe keys and jobs go when the user is deleted).
# A new message is counted in the user's 'messages' window too when a window is given (ARGV[9]).
# Returns 0 for a redelivery, else that count (1 when not counting).
# KEYS: seen, job, pending_at, lease_until, msgs, counts. ARGV: id, user, payload, now, ttl, owner,
# until, attempts, window, kept
ENQUEUE_SCRIPT = (
    COUNT_LUA
    + """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[5]) then return 0 end
redis.call('HSET', KEYS[2], 'user', ARGV[2], 'payload', ARGV[3], 'received_at', ARGV[4],
           'owner', ARGV[6], 'attempts', ARGV[8])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[7], ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[4], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', ARGV[4] - ARGV[5])
redis.call('EXPIRE', KEYS[5], ARGV[5])
if tonumber(ARGV[9]) == 0 then return 1 end
return count_event(KEYS[6], 'messages', ARGV[4], ARGV[9], ARGV[10])
"""
)
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
# A field of a hash, set only while the job is pending (a finished job's data must not come back).
# KEYS: the hash, lease_until. ARGV: id, field, value
SET_IF_PENDING_SCRIPT = """
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then redis.call('HSET', KEYS[1], ARGV[2], ARGV[3]) end
return 0
"""
# KEYS: job, pending_at, lease_until, dead, sending. ARGV: id, now, error
BURY_SCRIPT = """
if not redis.call('ZSCORE', KEYS[3], ARGV[1]) then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[1])
redis.call('HSET', KEYS[1], 'error', ARGV[3], 'dead_at', ARGV[2])
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
return 1
"""


class RedisInbound:
    """The Store's inbound-job methods, on Redis (mixed into RedisStore, which provides `client`,
    `_key` and `_queue_outbound`)."""

    def _register_inbound_scripts(self) -> None:
        self._enqueue = self.client.register_script(ENQUEUE_SCRIPT)
        self._claim = self.client.register_script(CLAIM_SCRIPT)
        self._renew = self.client.register_script(RENEW_SCRIPT)
        self._release = self.client.register_script(RELEASE_SCRIPT)
        self._set_if_pending = self.client.register_script(SET_IF_PENDING_SCRIPT)
        self._bury = self.client.register_script(BURY_SCRIPT)
        self._migrated = False

    def enqueue_inbound(
        self, message_id: str, user: str, payload: dict[str, Any], lease: Lease | None = None
    ) -> bool:
        return bool(self.enqueue_counted(message_id, user, payload, lease, 0))

    def enqueue_counted(self, message_id: str, user: str, payload: dict[str, Any],
                        lease: Lease | None, window_seconds: int) -> int:  # fmt: skip
        """One script: the dedupe key, the job and (window_seconds > 0) the user's count."""
        now = time.time()
        keys = [self._key("seen", message_id), self._key("job", message_id),
                self._key("pending_at"), self._key("lease_until"), self._key("msgs", user),
                self._key("counts", user)]  # fmt: skip
        args = [message_id, user, json.dumps(payload, ensure_ascii=False), now,
                DEDUPE_TTL_SECONDS, lease.owner if lease else "", lease.until(now) if lease else 0,
                int(lease is not None), window_seconds, COUNTERS_KEPT_SECONDS]  # fmt: skip
        return int(self._enqueue(keys=keys, args=args))

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
        if not ids:
            return []
        pipe = self.client.pipeline(transaction=False)
        for message_id in ids:
            pipe.hgetall(self._key("job", message_id))
        pipe.hmget(self._key("sending"), ids)
        *rows, sending = pipe.execute()
        return [_job(mid, fields, since) for mid, fields, since in zip(ids, rows, sending,
                strict=True) if fields]  # fmt: skip

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
        keys = [self._key("sending"), self._key("lease_until")]
        self._set_if_pending(keys=keys, args=[message_id, message_id, at.timestamp()])

    def queue_sending(self, pipe, message_id: str, at: datetime) -> None:
        """mark_sending inside the pipeline that saves the turn (whose job is pending)."""
        pipe.hset(self._key("sending"), message_id, at.timestamp())

    def mark_resent(self, message_id: str) -> None:
        keys = [self._key("job", message_id), self._key("lease_until")]
        self._set_if_pending(keys=keys, args=[message_id, "resent", 1])

    def bury_inbound(self, message_id: str, error: str) -> None:
        keys = [self._key("job", message_id), self._key("pending_at"),
                self._key("lease_until"), self._key("dead"), self._key("sending")]  # fmt: skip
        self._bury(keys=keys, args=[message_id, time.time(), error_text(error) or ""])

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        ids = self.client.zrevrange(self._key("dead"), 0, limit - 1)
        pipe = self.client.pipeline(transaction=False)
        for message_id in ids:
            pipe.hgetall(self._key("job", message_id))
        return [
            DeadLetter(message_id=mid, user=fields["user"], payload=json.loads(fields["payload"]),
                       attempts=int(fields.get("attempts") or 0), error=fields.get("error"),
                       at=as_datetime(float(fields["dead_at"])))
            for mid, fields in zip(ids, pipe.execute(), strict=True) if fields
        ]  # fmt: skip

    def complete_inbound(self, message_id: str, replies: Sequence[OutboundRecord] = ()) -> None:
        pipe = self.client.pipeline()  # MULTI/EXEC: the replies and the closed job, or neither
        for record in replies:
            self._queue_outbound(pipe, record)
        pipe.delete(self._key("job", message_id))
        pipe.hdel(self._key("sending"), message_id)
        pipe.zrem(self._key("pending_at"), message_id)
        pipe.zrem(self._key("lease_until"), message_id)
        pipe.execute()


def _job(message_id: str, fields: dict[str, str], sending: str | None) -> InboundJob:
    return InboundJob(
        message_id=message_id, user=fields["user"], payload=json.loads(fields["payload"]),
        received_at=as_datetime(float(fields["received_at"])),
        attempts=int(fields.get("attempts") or 0),
        sending_since=as_datetime(float(sending)) if sending else None,
        resent=fields.get("resent") == "1", error=fields.get("error") or None,
    )  # fmt: skip
