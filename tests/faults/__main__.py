"""`python -m tests.faults [--short] [--people N] [--faults 2,3,4]`: run the rig (as root)."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from tests.faults.scenario import FULL, SHORT, main


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.faults", description=__doc__)
    parser.add_argument("--short", action="store_true", help="the CI version: faults 2, 3, 4")
    parser.add_argument("--people", type=int, help="simulated people")
    parser.add_argument("--faults", help="comma-separated fault numbers (1-5), in order")
    return parser.parse_args()


if __name__ == "__main__":
    args = arguments()
    plan = SHORT if args.short else FULL
    if args.people:
        plan = dataclasses.replace(plan, people=args.people)
    if args.faults:
        plan = dataclasses.replace(plan, faults=tuple(int(n) for n in args.faults.split(",")))
    sys.exit(main(plan))
