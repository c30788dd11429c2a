"""Which adapter serves each port, each chosen by its own setting, so any mix works:

| port            | embedded (nothing set)        | production                          |
|-----------------|-------------------------------|-------------------------------------|
| database        | SQLite file (aiosqlite)       | DATABASE_URL=postgresql://...       |
| jobs            | taskiq in-memory broker       | REDIS_URL (taskiq-redis streams)    |
| cache, throttle | in process                    | REDIS_URL                           |
| reply pieces,   | in process                    | REDIS_URL (a stream per reply;      |
| stop requests   |                               | pub/sub for stops)                  |
| language model  | offline model                 | GEMINI_API_KEY and/or OPENAI_BASE_URL |
| payments        | sandbox checkout              | STRIPE_SECRET_KEY (+ webhook, price)|
|                 |                               | or PAYMENTS=sandbox; else none (503)|
| OTP delivery    | in the response               | logged, or OTP_DELIVERY=response    |
| attachment bytes| a folder (BLOB_DIR, default   | S3_BUCKET (+ S3_ENDPOINT_URL for an |
|                 | DATA_DIR/blobs)               | S3-compatible server than AWS)      |

The language model's providers are chosen in `model_providers.py`. The two open doors
(codes in responses, the sandbox) are defaults in embedded mode only; chosen outside it,
each is logged as a warning when the container is built (`container.py`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from gemini_clone.adapters.blobs import LocalFolderBlobStore
from gemini_clone.adapters.jwt import load_or_create_secret
from gemini_clone.adapters.memory.cache import InMemoryCache, InMemoryThrottle
from gemini_clone.adapters.memory.circuits import InMemoryCircuitBreaker
from gemini_clone.adapters.memory.reply_pieces import InMemoryReplyPieces
from gemini_clone.adapters.memory.reply_stops import InMemoryReplyStops
from gemini_clone.adapters.redis import (
    NearCache,
    RedisCircuitBreaker,
    RedisReplyPieces,
    RedisReplyStops,
    RedisThrottle,
    create_redis_client,
)
from gemini_clone.adapters.sandbox import NotConfiguredPaymentGateway, SandboxPaymentGateway
from gemini_clone.adapters.security import LoggingOtpSender, NullOtpSender
from gemini_clone.adapters.sql.engine import create_engine
from gemini_clone.adapters.sql.posting import PostgresPosting, SqlPosting
from gemini_clone.adapters.sql.replies import PostgresReplyStore, SqlReplyStore
from gemini_clone.adapters.taskiq.producer import StreamReplyJobs
from gemini_clone.domain.circuits import CircuitPolicy
from gemini_clone.entrypoints.settings import Settings
from gemini_clone.ports.blobs import BlobStore
from gemini_clone.ports.cache import Cache, Throttle
from gemini_clone.ports.circuits import CircuitBreaker
from gemini_clone.ports.clock import Clock
from gemini_clone.ports.images import ImageCheck
from gemini_clone.ports.jobs import ReplyJobs
from gemini_clone.ports.otp import OtpSender
from gemini_clone.ports.payments import PaymentGateway
from gemini_clone.ports.posting import MessagePosting
from gemini_clone.ports.replies import ReplyStore
from gemini_clone.ports.reply_pieces import ReplyPieces
from gemini_clone.ports.reply_stops import ReplyStops

if TYPE_CHECKING:
    from taskiq import AsyncBroker

logger = logging.getLogger("gemini_clone.container")


class ConfigurationError(ValueError):
    """The settings do not make a working service; the message says what to set."""


def jwt_secret(settings: Settings) -> str:
    """`JWT_SECRET`, or in a single-process embedded setup a secret kept in the data folder.

    Several processes (Redis configured) or a PostgreSQL database mean a deployment whose
    processes must share the secret, so it must be set explicitly there.
    """
    if settings.jwt_secret:
        return settings.jwt_secret
    if settings.redis_url or not settings.is_sqlite:
        raise ConfigurationError(
            "JWT_SECRET is required with PostgreSQL or Redis (every process must share it)."
        )
    secret, created = load_or_create_secret(Path(settings.data_dir) / "jwt_secret")
    if created:
        logger.warning(
            "generated a JWT secret in %s; set JWT_SECRET for production", settings.data_dir
        )
    return secret


def derived_key(secret: str, purpose: str) -> bytes:
    """A key for one purpose from the main secret, so one leaked key does not open the rest."""
    return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest()


def make_engine(settings: Settings) -> AsyncEngine:
    # No overflow: every connection is kept open once opened (bench/README.md, Decisions).
    return create_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=0,
        transaction_pooler=settings.database_transaction_pooler,
    )


def make_message_posting(engine: AsyncEngine) -> MessagePosting:
    # PostgreSQL posts in one statement; any other database statement by statement.
    if engine.dialect.name == "postgresql":
        return PostgresPosting(engine)
    return SqlPosting(engine)


def make_reply_store(engine: AsyncEngine) -> ReplyStore:
    # PostgreSQL claims and finishes a reply in one statement each; any other database
    # statement by statement.
    if engine.dialect.name == "postgresql":
        return PostgresReplyStore(engine)
    return SqlReplyStore(engine)


def make_redis(settings: Settings) -> Redis | None:
    if not settings.redis_url:
        return None
    return create_redis_client(settings.redis_url, max_connections=settings.redis_max_connections)


def make_cache(redis: Redis | None) -> Cache:
    return NearCache(redis) if redis is not None else InMemoryCache()


def make_throttle(redis: Redis | None) -> Throttle:
    return RedisThrottle(redis) if redis is not None else InMemoryThrottle()


def make_broker(settings: Settings) -> AsyncBroker:
    # Imported here: only a process that runs jobs (a worker, or the embedded mode) loads
    # taskiq; an API process with Redis queues jobs through `StreamReplyJobs`.
    from gemini_clone.adapters.taskiq.jobs import create_broker

    return create_broker(
        settings.redis_url,
        reply_lease_seconds=settings.reply_lease_seconds,
        in_process_concurrency=settings.worker_concurrency,
    )


def make_reply_jobs(redis: Redis | None, broker: Callable[[], AsyncBroker]) -> ReplyJobs:
    if redis is not None:
        return StreamReplyJobs(redis)
    from gemini_clone.adapters.taskiq.jobs import TaskiqReplyJobs

    return TaskiqReplyJobs(broker())


def make_reply_pieces(redis: Redis | None) -> ReplyPieces:
    return RedisReplyPieces(redis) if redis is not None else InMemoryReplyPieces()


def make_reply_stops(redis: Redis | None) -> ReplyStops:
    return RedisReplyStops(redis) if redis is not None else InMemoryReplyStops()


def make_circuit_breaker(settings: Settings, redis: Redis | None) -> CircuitBreaker:
    """Shared by every worker through Redis; in process in embedded mode."""
    policy = CircuitPolicy(failures=settings.circuit_failures, cooldown=settings.circuit_cooldown)
    return (
        RedisCircuitBreaker(redis, policy) if redis is not None else InMemoryCircuitBreaker(policy)
    )


def uses_sandbox(settings: Settings) -> bool:
    """The app serves the sandbox checkout itself (and mounts its routes)."""
    return settings.payments_in_use == "sandbox"


def make_sandbox(
    settings: Settings, secret: Callable[[], str], clock: Clock
) -> SandboxPaymentGateway | None:
    if not uses_sandbox(settings):
        return None
    # Sessions are signed, not stored, with a key of their own from the secret every process
    # shares (the embedded mode keeps it in its data folder): any process, and the same one
    # after a restart, reads them.
    key = derived_key(secret(), "sandbox-checkout-sessions")
    # With the chat page on, the checkout comes back to it instead of the JSON status route.
    if settings.web_ui:
        return SandboxPaymentGateway(key, clock, return_path="/")
    return SandboxPaymentGateway(key, clock)


def make_payment_gateway(
    settings: Settings, sandbox: SandboxPaymentGateway | None
) -> PaymentGateway:
    if sandbox is not None:
        return sandbox
    if settings.payments_in_use == "none":
        return NotConfiguredPaymentGateway()
    assert settings.stripe_secret_key is not None
    if not settings.stripe_webhook_secret or not settings.stripe_pro_price_id:
        raise ConfigurationError(
            "With STRIPE_SECRET_KEY set, STRIPE_WEBHOOK_SECRET and STRIPE_PRO_PRICE_ID "
            "are required too."
        )
    # Imported here: the stripe library costs a process tens of MB the sandbox never needs.
    from gemini_clone.adapters.stripe import StripePaymentGateway

    return StripePaymentGateway(
        secret_key=settings.stripe_secret_key,
        webhook_secret=settings.stripe_webhook_secret,
        pro_price_id=settings.stripe_pro_price_id,
        success_url=settings.stripe_success_url,
        cancel_url=settings.stripe_cancel_url,
        api_base=settings.stripe_api_base,
    )


def make_otp_sender(settings: Settings) -> OtpSender:
    return LoggingOtpSender() if settings.otp_delivery_in_use == "log" else NullOtpSender()


def make_blob_store(settings: Settings) -> BlobStore:
    if settings.s3_bucket:
        # Imported here: a process on the local folder never loads the S3 client.
        from gemini_clone.adapters.blobs.s3 import S3BlobStore

        return S3BlobStore.connect(settings.s3_bucket, settings.s3_endpoint_url)
    if not settings.is_embedded:
        logger.warning(
            "attachment bytes are kept in the folder %s: every API and worker process must "
            "share it (a shared volume), or set S3_BUCKET",
            settings.blob_folder,
        )
    return LocalFolderBlobStore(settings.blob_folder)


def make_image_check(settings: Settings) -> ImageCheck:
    # Imported here: Pillow is loaded by the processes that take uploads only.
    from gemini_clone.adapters.imaging import PillowImageCheck

    return PillowImageCheck(max_pixels=settings.image_max_pixels)
