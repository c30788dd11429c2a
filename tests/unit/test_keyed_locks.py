from __future__ import annotations

import asyncio

from gemini_clone.application.keyed_locks import KeyedLocks


async def test_holders_of_one_key_take_turns_and_other_keys_do_not_wait() -> None:
    locks = KeyedLocks()
    inside: dict[str, int] = {"a": 0, "b": 0}
    most: dict[str, int] = {"a": 0, "b": 0}

    async def hold(key: str) -> None:
        async with locks.hold(key):
            inside[key] += 1
            most[key] = max(most[key], inside[key])
            await asyncio.sleep(0)
            inside[key] -= 1

    await asyncio.gather(*(hold(key) for key in "ababab"))

    assert most == {"a": 1, "b": 1}


async def test_a_key_nobody_holds_or_awaits_is_forgotten() -> None:
    locks = KeyedLocks()
    started = asyncio.Event()

    async def hold() -> None:
        async with locks.hold("user"):
            started.set()
            await asyncio.sleep(0.01)

    first = asyncio.create_task(hold())
    await started.wait()
    second = asyncio.create_task(hold())
    await asyncio.gather(first, second)

    assert locks._locks == {}


async def test_a_failure_inside_releases_the_key() -> None:
    locks = KeyedLocks()
    try:
        async with locks.hold("user"):
            raise RuntimeError("boom")
    except RuntimeError:
        pass

    async with asyncio.timeout(1), locks.hold("user"):
        pass
    assert locks._locks == {}
