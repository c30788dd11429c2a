"""`gemini-clone <args>` in this process, with cProfile switched on by SIGUSR1 and off by
SIGUSR2 (its statistics written to `$PROFILE_TO` then), so that a bench profiles one phase
of a running API process and nothing else. py-spy cannot read this machine's processes.

    python bench/profiled_serve.py serve --port 8000     # PROFILE_TO=/tmp/api.prof
"""

from __future__ import annotations

import cProfile
import os
import signal
import sys
import time
from types import FrameType

from gemini_clone.entrypoints.command import run

# CPU time, not wall time: on a shared machine, time spent waiting for a core is not a cost.
profile = cProfile.Profile(time.process_time)


def start(_signal: int, _frame: FrameType | None) -> None:
    profile.enable()


def stop(_signal: int, _frame: FrameType | None) -> None:
    profile.disable()
    profile.dump_stats(os.environ["PROFILE_TO"])


if __name__ == "__main__":
    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    sys.exit(run())
