"""Liveness and readiness probes."""

from __future__ import annotations

import logging

from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec

from gemini_clone.entrypoints.http.schemas import CheckBody, HealthBody, ReadinessBody

logger = logging.getLogger("gemini_clone.http")


class HealthController(Controller):
    tags = ["health"]

    @get("/healthz", summary="Liveness: the process answers")
    async def healthz(self) -> HealthBody:
        return HealthBody(status="ok")

    @get(
        "/readyz",
        summary="Readiness: the database, Redis and the broker in use are reachable",
        responses={
            503: ResponseSpec(
                data_container=ReadinessBody,
                description="A dependency is unreachable; `checks` says which.",
                generate_examples=False,
            )
        },
    )
    async def readyz(self, state: State) -> Response[ReadinessBody]:
        try:
            results = await state.runtime.check()
        except Exception:
            logger.exception("the readiness check failed")
            results = [("runtime", False, "the check itself failed")]
        checks = {name: CheckBody(ok=ok, detail=detail) for name, ok, detail in results}
        ready = all(check.ok for check in checks.values())
        return Response(
            ReadinessBody(status="ok" if ready else "unavailable", checks=checks),
            status_code=200 if ready else 503,
        )
