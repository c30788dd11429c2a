"""The banner `serve` prints: which adapter serves each port, and how to switch."""

from __future__ import annotations

from gemini_clone.entrypoints.container import OPEN_DOOR_RISKS
from gemini_clone.entrypoints.model_providers import describe_providers
from gemini_clone.entrypoints.setting_checks import mask_url_password
from gemini_clone.entrypoints.settings import OFFLINE, Settings


def adapter_lines(settings: Settings) -> list[tuple[str, str, str]]:
    """(port, adapter in use, how to switch) for every port that has a choice."""
    redis = settings.redis_url is not None
    return [
        (
            "database",
            "SQLite " + settings.database_url.split("///", 1)[-1]
            if settings.is_sqlite
            else "PostgreSQL",
            "set DATABASE_URL=postgresql://..." if settings.is_sqlite else "",
        ),
        (
            "jobs",
            "taskiq on Redis streams (run `gemini-clone worker`)"
            if redis
            else "taskiq in-memory broker, in this process",
            "" if redis else "set REDIS_URL=redis://... and run `gemini-clone worker`",
        ),
        (
            "cache, throttles",
            "Redis" if redis else "in this process",
            "" if redis else "set REDIS_URL=redis://...",
        ),
        (
            "streaming",
            "reply pieces and stops through Redis (any API process streams any reply)"
            if redis
            else "reply pieces and stops in this process",
            "" if redis else "set REDIS_URL=redis://...",
        ),
        *language_model_lines(settings),
        payments_line(settings),
        (
            "OTP delivery",
            "in the API response" if settings.otp_delivery_in_use == "response" else "log only",
            "set OTP_DELIVERY=log" if settings.otp_delivery_in_use == "response" else "",
        ),
        (
            "attachments",
            f"S3 bucket {settings.s3_bucket}"
            + (
                f" at {mask_url_password(settings.s3_endpoint_url)}"
                if settings.s3_endpoint_url
                else ""
            )
            if settings.s3_bucket
            else f"folder {settings.blob_folder}",
            "" if settings.s3_bucket else "set S3_BUCKET=... (+ S3_ENDPOINT_URL)",
        ),
        (
            "JWT secret",
            "JWT_SECRET" if settings.jwt_secret else f"generated in {settings.data_dir}/",
            "" if settings.jwt_secret else "set JWT_SECRET=...",
        ),
    ]


def payments_line(settings: Settings) -> tuple[str, str, str]:
    stripe = "set STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, STRIPE_PRO_PRICE_ID"
    match settings.payments_in_use:
        case "stripe":
            return ("payments", "Stripe", "")
        case "sandbox":
            return ("payments", "sandbox checkout served by this app", stripe)
        case "none":
            return (
                "payments",
                "not configured: /subscribe/pro answers 503",
                f"{stripe} (or PAYMENTS=sandbox to test)",
            )


def language_model_lines(settings: Settings) -> list[tuple[str, str, str]]:
    """One line per model provider: which models it serves, the default marked."""
    lines = []
    for provider, models in describe_providers(settings):
        if provider == OFFLINE:
            lines.append(
                (
                    "language model",
                    "offline model (canned, labelled answers)",
                    "set GEMINI_API_KEY=..., or OPENAI_BASE_URL and OPENAI_MODELS "
                    "for a local model",
                )
            )
        else:
            lines.append(("language model", f"{provider}: {models}", ""))
    if settings.model_fallbacks:
        circuits = "Redis" if settings.redis_url is not None else "this process"
        lines.append(
            ("fallbacks", f"{settings.model_fallbacks} (model circuits in {circuits})", "")
        )
    return lines


def banner(settings: Settings, url: str) -> str:
    lines = [f"gemini-clone serving on {url}  (API docs: {url}/schema/swagger)"]
    for port, adapter, switch in adapter_lines(settings):
        hint = f"  -> {switch}" if switch else ""
        lines.append(f"  {port:<17}{adapter}{hint}")
    lines.extend(open_door_warnings(settings))
    return "\n".join(lines)


def open_door_warnings(settings: Settings) -> list[str]:
    """One line per open door chosen outside embedded mode (`serve` and `worker` print them)."""
    return [f"WARNING {door}: {OPEN_DOOR_RISKS[door]}" for door in settings.open_doors]
