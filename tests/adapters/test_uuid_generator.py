"""The service's ids: version-7 UUIDs, in the order they were made across milliseconds,
unguessable within one."""

from __future__ import annotations

import time
import uuid

from gemini_clone.adapters.system import UuidGenerator


def test_ids_are_version_7_uuids_carrying_the_time_they_were_made() -> None:
    before = time.time_ns() // 1_000_000
    made = UuidGenerator().new_id()
    after = time.time_ns() // 1_000_000
    assert made.version == 7
    assert made.variant == uuid.RFC_4122
    assert before <= made.int >> 80 <= after


def test_ids_of_later_milliseconds_sort_after_earlier_ones() -> None:
    ids = UuidGenerator()
    first = ids.new_id()
    time.sleep(0.002)
    second = ids.new_id()
    assert first < second
    assert str(first) < str(second)  # as PostgreSQL's uuid and SQLite's text compare them


def test_ids_of_one_millisecond_differ_in_their_74_random_bits() -> None:
    ids = UuidGenerator()
    made = [ids.new_id() for _ in range(10_000)]
    assert len(set(made)) == len(made)
    random_parts = {(id_.int >> 64) & 0xFFF for id_ in made}
    assert len(random_parts) > 1_000  # the 12 bits after the version vary
