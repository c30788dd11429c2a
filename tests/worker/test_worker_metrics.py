"""A `gemini-clone worker` serves its own Prometheus metrics: its replies are in no API
process's `/metrics`."""

from __future__ import annotations

import httpx
import pytest
from tests.redis_server import free_port
from tests.worker.harness import Deployment

from gemini_clone.domain.messages import MessageStatus

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


async def test_a_worker_with_a_metrics_port_serves_the_replies_it_finished(
    deployment: Deployment,
) -> None:
    port = free_port()
    worker = await deployment.start_worker(WORKER_METRICS_PORT=str(port)).ready()
    user, room = await deployment.new_chatroom()
    posted = await deployment.post(user, room, "Count me")

    reply = await deployment.wait_for_reply(user, posted.reply.id)
    # The counter moves before the outcome is logged.
    await worker.wait_for_log(f"reply {posted.reply.id} completed")

    assert reply.status is MessageStatus.COMPLETED
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{port}/metrics")
    assert response.status_code == 200
    lines = response.text.splitlines()
    assert 'gemini_clone_replies_total{status="completed"} 1.0' in lines
    assert 'gemini_clone_replies_total{status="failed"} 0.0' in lines
    assert f"metrics at http://127.0.0.1:{port}/metrics" in worker.log
