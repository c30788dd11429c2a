"""`RedisCircuitBreaker`: the circuits every worker shares, one Redis hash per model.

Each call is one Lua script, so it is atomic however many workers call at once, and it
reads the time from Redis (`TIME`): one clock for every worker, whatever their own say,
and a worker paused for a while acts on the time it wakes at, never on the time it
paused at. The script is the twin of `Circuit` (`domain/circuits.py`): the same states,
in milliseconds.
"""

from __future__ import annotations

import logging

from redis.asyncio import Redis

from gemini_clone.adapters.redis.cache import DEFAULT_KEY_PREFIX
from gemini_clone.adapters.redis.client import without_retries
from gemini_clone.adapters.redis.failures import REDIS_FAILURES
from gemini_clone.domain.circuits import CircuitPolicy, CircuitState
from gemini_clone.ports.circuits import CircuitBreaker

logger = logging.getLogger(__name__)

_SCRIPT = """
local key, op = KEYS[1], ARGV[1]
local threshold, cooldown, keep = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
if op == 'succeeded' then
  redis.call('DEL', key)
  return 'closed'
end
local fields = redis.call('HMGET', key, 'failures', 'open_until', 'try_until')
local failures = tonumber(fields[1]) or 0
local open_until, try_until = tonumber(fields[2]), tonumber(fields[3])
local state = 'closed'
if open_until then
  state = now < open_until and 'open' or 'half_open'
end
if op == 'state' then
  return state
end
if op == 'admit' then
  if state == 'closed' then return 'admitted' end
  if state == 'open' or (try_until and now < try_until) then return 'refused' end
  redis.call('HSET', key, 'try_until', now + cooldown)
  redis.call('PEXPIRE', key, keep)
  return 'admitted'
end
failures = failures + 1
if state == 'open' then
  redis.call('HSET', key, 'failures', failures)
  redis.call('HDEL', key, 'try_until')
elseif state == 'half_open' or failures >= threshold then
  redis.call('HSET', key, 'failures', failures, 'open_until', now + cooldown)
  redis.call('HDEL', key, 'try_until')
else
  redis.call('HSET', key, 'failures', failures)
end
redis.call('PEXPIRE', key, keep)
return 'counted'
"""

FORGET_AFTER_SECONDS = 3600
"""A circuit nobody wrote to for this long past its cooldown is forgotten (closed, its
count back to zero): old failures are no sign of the model's health now."""


class RedisCircuitBreaker(CircuitBreaker):
    """Circuits at `<prefix>circuit:<model>`. When Redis cannot be reached the circuits
    stay out of the way: every model is asked (a reply is never failed for the breaker's
    sake), and what happened is not counted.

    Commands go through a pool of their own, like `redis`'s, that never sends one twice
    (`without_retries`): a failure counted twice, or a half-open try taken by a first
    send whose answer was lost, would be wrong; close it with `aclose`."""

    def __init__(
        self, redis: Redis, policy: CircuitPolicy, *, key_prefix: str = DEFAULT_KEY_PREFIX
    ) -> None:
        self._prefix = f"{key_prefix}circuit:"
        self._redis = without_retries(redis)
        self._script = self._redis.register_script(_SCRIPT)
        cooldown_ms = round(policy.cooldown * 1000)
        self._limits = (
            policy.failures,
            cooldown_ms,
            2 * cooldown_ms + FORGET_AFTER_SECONDS * 1000,
        )

    async def admit(self, model: str) -> bool:
        return await self._run("admit", model, default="admitted") == "admitted"

    async def failed(self, model: str) -> None:
        await self._run("failed", model, default="counted")

    async def succeeded(self, model: str) -> None:
        await self._run("succeeded", model, default="closed")

    async def state(self, model: str) -> CircuitState:
        return CircuitState(await self._run("state", model, default="closed"))

    async def aclose(self) -> None:
        await self._redis.aclose()

    async def _run(self, op: str, model: str, *, default: str) -> str:
        try:
            answer = await self._script(keys=[self._prefix + model], args=[op, *self._limits])
        except REDIS_FAILURES as error:
            logger.warning("circuit of %s not consulted (%s: %s)", model, op, error)
            return default
        return answer.decode() if isinstance(answer, bytes) else str(answer)
