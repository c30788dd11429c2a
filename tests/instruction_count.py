"""The instructions the post's and the claim's hot paths cost this process, counted by
valgrind's callgrind: a regression guard that a busy machine does not disturb.

    python -m tests.instruction_count DATABASE_URL CALLS OUT_FILE   # under callgrind only

`count(database_url)` runs this module under `valgrind --tool=callgrind` with
instrumentation off (start-up, imports and the database set-up run at near native
speed), warms both paths up (statements prepared, the pool's connection open), then
turns instrumentation on only around `CALLS` posts (`PostgresPosting.store`) and then
`CALLS` claims (`PostgresReplyStore.claim`, a 20-turn history), dumping the count after
each. Only this client process is counted (PostgreSQL's work is not), with
PYTHONHASHSEED fixed and the garbage collector's heap frozen before counting.

Instrumentation is switched with valgrind's client requests (callgrind.h's
`CALLGRIND_START_INSTRUMENTATION`, `CALLGRIND_DUMP_STATS`), issued from a few bytes of
x86-64 machine code called through ctypes: the magic no-op sequence valgrind recognises,
which does nothing on a real CPU.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import json
import mmap
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path

BASELINE = Path(__file__).resolve().parent.parent / "bench" / "instructions.json"
CALLS = 50
WARM_UP = 20
TOLERANCE = 0.10
"""How much either path may grow over the baseline before the guard fails."""

_CALLGRIND = (ord("C") << 24) | (ord("T") << 16)
_DUMP_STATS = _CALLGRIND + 0
_START_INSTRUMENTATION = _CALLGRIND + 4
_STOP_INSTRUMENTATION = _CALLGRIND + 5
_RUNNING_ON_VALGRIND = 0x1001

_REQUEST_CODE = bytes(
    [
        *(0x48, 0x89, 0xF8),  # mov rax, rdi: the request block
        *(0x31, 0xD2),  # xor edx, edx: the answer when not under valgrind
        *(0x48, 0xC1, 0xC7, 0x03),  # rol rdi, 3   \
        *(0x48, 0xC1, 0xC7, 0x0D),  # rol rdi, 13   | valgrind's preamble: 128 bits
        *(0x48, 0xC1, 0xC7, 0x3D),  # rol rdi, 61   | of rotation, a no-op
        *(0x48, 0xC1, 0xC7, 0x33),  # rol rdi, 51  /
        *(0x48, 0x87, 0xDB),  # xchg rbx, rbx: the client request
        *(0x48, 0x89, 0xD0),  # mov rax, rdx: valgrind's answer
        0xC3,  # ret
    ]
)


class _ClientRequests:
    def __init__(self) -> None:
        if platform.machine() not in ("x86_64", "AMD64"):
            raise RuntimeError("valgrind client requests are written for x86-64 only")
        self._code = mmap.mmap(
            -1, len(_REQUEST_CODE), prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC
        )
        self._code.write(_REQUEST_CODE)
        address = ctypes.addressof(ctypes.c_char.from_buffer(self._code))
        self._call = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_void_p)(address)

    def __call__(self, request: int) -> int:
        block = (ctypes.c_size_t * 6)(request, 0, 0, 0, 0, 0)
        answer: int = self._call(ctypes.addressof(block))
        return answer


async def _counted(database_url: str, calls: int) -> None:
    from tests.hot_path_calls import hot_path_calls

    from gemini_clone.adapters.sql.engine import create_engine

    request = _ClientRequests()
    if not request(_RUNNING_ON_VALGRIND):
        raise RuntimeError("run under valgrind --tool=callgrind (see `count`)")
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        warm = await hot_path_calls(engine, WARM_UP)
        counted = await hot_path_calls(engine, calls)
        for call in (*warm.post, *warm.claim):
            await call()
        gc.collect()
        gc.freeze()
        request(_START_INSTRUMENTATION)
        for call in counted.post:
            await call()
        request(_DUMP_STATS)
        for call in counted.claim:
            await call()
        request(_DUMP_STATS)
        request(_STOP_INSTRUMENTATION)
    finally:
        await engine.dispose()


def count(database_url: str, calls: int = CALLS) -> dict[str, int]:
    """Instructions per call of the post and of the claim, on a migrated database (two
    counts of the same code differ by a few instructions in a million)."""
    with tempfile.TemporaryDirectory(prefix="gemini-clone-callgrind-") as folder:
        out = Path(folder) / "callgrind.out"
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={out}",
                sys.executable,
                "-m",
                "tests.instruction_count",
                database_url,
                str(calls),
            ],
            env={**os.environ, "PYTHONHASHSEED": "0"},
            cwd=Path(__file__).resolve().parent.parent,
            check=True,
            capture_output=True,
        )
        parts = {int(p.name.rsplit(".", 1)[1]): _summary(p) for p in Path(folder).glob("*.[0-9]")}
    return {"post": parts[1] // calls, "claim": parts[2] // calls}


def _summary(dump: Path) -> int:
    found = re.search(r"^(?:summary|totals): (\d+)", dump.read_text(), re.MULTILINE)
    assert found is not None, f"no summary in {dump}"
    return int(found.group(1))


def baseline() -> dict[str, int]:
    counts: dict[str, int] = json.loads(BASELINE.read_text())["instructions_per_call"]
    return counts


def write_baseline(counts: dict[str, int]) -> None:
    BASELINE.write_text(
        json.dumps(
            {
                "python": platform.python_version(),
                "calls": CALLS,
                "instructions_per_call": counts,
                "refresh": "uv run python bench/instructions.py --refresh",
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    asyncio.run(_counted(sys.argv[1], int(sys.argv[2])))
