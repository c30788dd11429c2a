"""A PostgreSQL database filled with a grown service's rows, repeatable from a seed.

Used by the plan test (tests/adapters/test_query_plans.py, a moderate size) and by the
scale benchmarks (`bench/seed.py`, up to ten million messages). The shapes are in
`plan.py`, the rows in `rows.py`, the loading (COPY, indexes after, ANALYZE) in `load.py`.
"""

from tests.seeding.load import LoadReport, load
from tests.seeding.plan import Shape

__all__ = ["LoadReport", "Shape", "load"]
