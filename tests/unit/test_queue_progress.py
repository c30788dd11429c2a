"""`QueueProgress.may_still_hold`: the rule that tells a job the queue may still run (waiting
its turn, or with a worker that has not acknowledged it) from one it can no longer run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gemini_clone.ports.jobs import QueueProgress

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
MARGIN = timedelta(seconds=5)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def progress(
    kept: tuple[float, float] | None = (0, 1000),
    handed_out_until: float | None = None,
    unacknowledged: tuple[float, float] | None = None,
) -> QueueProgress:
    """A stream keeping jobs queued between `kept`, handed out up to `handed_out_until`,
    and holding unacknowledged ones between `unacknowledged` (seconds after T0)."""
    return QueueProgress(
        oldest_kept=None if kept is None else at(kept[0]),
        newest_kept=None if kept is None else at(kept[1]),
        handed_out_until=None if handed_out_until is None else at(handed_out_until),
        oldest_unacknowledged=None if unacknowledged is None else at(unacknowledged[0]),
        newest_unacknowledged=None if unacknowledged is None else at(unacknowledged[1]),
    )


@pytest.mark.parametrize(
    ("queue", "queued_at"),
    [
        pytest.param(progress(), 500, id="waiting-nothing-handed-out-yet"),
        pytest.param(progress(handed_out_until=400), 500, id="waiting-after-the-handed-out"),
        pytest.param(progress(handed_out_until=400), 396, id="handed-out-within-the-margin"),
        pytest.param(
            progress(handed_out_until=700, unacknowledged=(450, 650)),
            500,
            id="handed-out-and-not-acknowledged",
        ),
        pytest.param(
            progress(handed_out_until=1000, unacknowledged=(450, 650)),
            500,
            id="not-acknowledged-when-all-were-handed-out",
        ),
        pytest.param(
            progress(handed_out_until=1000, unacknowledged=(450, 450)),
            450,
            id="the-only-one-not-acknowledged",
        ),
        pytest.param(
            progress(handed_out_until=1000, unacknowledged=(450, 650)),
            446,
            id="within-the-margin-before-the-oldest-not-acknowledged",
        ),
        pytest.param(
            progress(handed_out_until=1000, unacknowledged=(450, 650)),
            654,
            id="within-the-margin-after-the-newest-not-acknowledged",
        ),
        pytest.param(progress(), -4, id="within-the-margin-before-the-oldest-kept"),
        pytest.param(progress(), 1004, id="within-the-margin-after-the-newest-kept"),
    ],
)
def test_a_job_the_queue_may_still_run_is_held(queue: QueueProgress, queued_at: float) -> None:
    assert queue.may_still_hold(at(queued_at), MARGIN)


@pytest.mark.parametrize(
    ("queue", "queued_at"),
    [
        pytest.param(progress(kept=None), 500, id="the-queue-keeps-nothing"),
        pytest.param(
            progress(kept=None, unacknowledged=(450, 650)),
            500,
            id="the-queue-lost-everything",
        ),
        pytest.param(progress(kept=(100, 1000)), 94, id="trimmed-before-the-oldest-kept"),
        pytest.param(
            progress(kept=(100, 1000), handed_out_until=1000, unacknowledged=(50, 200)),
            94,
            id="trimmed-although-still-unacknowledged",
        ),
        pytest.param(progress(), 1006, id="never-queued-after-the-newest-kept"),
        pytest.param(progress(handed_out_until=700), 500, id="handed-out-and-acknowledged"),
        pytest.param(progress(handed_out_until=1000), 998, id="all-handed-out-and-acknowledged"),
        pytest.param(
            progress(handed_out_until=1000, unacknowledged=(450, 650)),
            444,
            id="acknowledged-before-the-oldest-not-acknowledged",
        ),
        pytest.param(
            progress(handed_out_until=1000, unacknowledged=(450, 650)),
            656,
            id="acknowledged-after-the-newest-not-acknowledged",
        ),
    ],
)
def test_a_job_the_queue_can_no_longer_run_is_not_held(
    queue: QueueProgress, queued_at: float
) -> None:
    assert not queue.may_still_hold(at(queued_at), MARGIN)
