"""Settings from the environment and an optional `.env` file; embedded defaults throughout.

Every field is read from the upper-case variable of its name (`database_url` from
`DATABASE_URL`). The environment wins over `.env`. Nothing configured means the embedded
mode: SQLite in the working folder, in-process jobs, cache and throttles, the offline model,
codes in responses, the sandbox checkout and a JWT secret generated into the data folder.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

import msgspec

EMBEDDED_DATABASE_URL = "sqlite+aiosqlite:///./gemini_clone.db"
SECRET_FIELDS = frozenset(
    {"jwt_secret", "gemini_api_key", "stripe_secret_key", "stripe_webhook_secret"}
)


class Settings(msgspec.Struct, kw_only=True, frozen=True):
    database_url: str = EMBEDDED_DATABASE_URL
    database_pool_size: int = 20
    data_dir: str = ".gemini_clone"
    """Where the embedded mode keeps its generated JWT secret."""
    redis_url: str | None = None
    public_base_url: str | None = None

    jwt_secret: str | None = None
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_days: int = 30
    otp_delivery: Literal["response", "log"] = "response"
    auth_rate_limit_per_minute: int = 120

    basic_daily_limit: int | None = 5
    pro_daily_limit: int | None = None
    chatroom_cache_ttl: int = 300

    gemini_api_key: str | None = None
    gemini_model: str = "gemini-2.5-flash"
    gemini_base_url: str = "https://generativelanguage.googleapis.com"
    gemini_timeout_seconds: float = 60.0
    gemini_max_attempts: int = 4
    gemini_temperature: float | None = None
    gemini_max_output_tokens: int | None = None
    system_instruction: str | None = None
    context_token_budget: int = 8000
    offline_model_latency_seconds: float = 0.0
    """Embedded model only: a pause before each answer (to try waiting, or to benchmark)."""
    offline_model_word_delay_seconds: Annotated[float, msgspec.Meta(ge=0)] = 0.03
    """Embedded model only: a pause before each word after the first, so that its answers
    stream the way a real model's do (0: all at once)."""

    reply_lease_seconds: int = 120
    sweep_interval_seconds: int = 30
    worker_concurrency: int = 512
    worker_metrics_port: Annotated[int, msgspec.Meta(ge=1, le=65535)] | None = None
    """`gemini-clone worker` only: serve the process's Prometheus metrics (replies by status,
    generation latency) on this port, at `/metrics`; unset, they are not served."""
    worker_shutdown_grace_seconds: Annotated[float, msgspec.Meta(ge=0)] = 20.0
    """How long a stopping worker lets running generations finish before it hands the rest
    back to the queue (keep it below the platform's kill timeout, Kubernetes' 30 s)."""

    stripe_secret_key: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_pro_price_id: str | None = None
    stripe_api_base: str | None = None
    stripe_success_url: str | None = None
    stripe_cancel_url: str | None = None

    web_ui: bool = True
    """Serve the chat page at `/` (its files under `/web/`); false serves no page, the API
    and its docs stay."""

    log_level: str = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def masked(self) -> dict[str, object]:
        """Every setting, secrets shown only as set or not (for `gemini-clone config`)."""
        values: dict[str, object] = msgspec.structs.asdict(self)
        for name in SECRET_FIELDS:
            if values[name]:
                values[name] = "****"
        for name in ("database_url", "redis_url"):
            values[name] = _mask_url_password(values[name])
        return values


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names it."""


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: str | Path | None = ".env"
) -> Settings:
    """Read settings from `environ` (default: the process environment) over `env_file`."""
    environ = os.environ if environ is None else environ
    raw: dict[str, str] = {}
    if env_file is not None and Path(env_file).is_file():
        raw.update(_read_env_file(Path(env_file)))
    raw.update(environ)
    fields = {name: raw[name.upper()] for name in Settings.__struct_fields__ if name.upper() in raw}
    values: dict[str, object] = {}
    for name, text in fields.items():
        values[name] = None if text.strip() == "" else text.strip()
    try:
        return msgspec.convert(values, Settings, strict=False)
    except msgspec.ValidationError as error:
        raise SettingsError(f"Invalid setting: {_upper_path(str(error))}") from None


def _read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _upper_path(message: str) -> str:
    # msgspec names the field as `$.field_name`; users know it as FIELD_NAME.
    return re.sub(r"`\$\.(\w+)`", lambda match: match.group(1).upper(), message)


def _mask_url_password(url: object) -> object:
    if not isinstance(url, str) or "@" not in url or "://" not in url:
        return url
    scheme, _, rest = url.partition("://")
    credentials, _, host = rest.rpartition("@")
    user, sep, _ = credentials.partition(":")
    return f"{scheme}://{user}{':****' if sep else ''}@{host}"
