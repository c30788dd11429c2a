"""Settings from the environment and an optional `.env` file; embedded defaults throughout.

Every field is read from the upper-case variable of its name (`database_url` from
`DATABASE_URL`). The environment wins over `.env`. Nothing configured means the embedded
mode: SQLite in the working folder, in-process jobs, cache and throttles, the offline model,
codes in responses, the sandbox checkout and a JWT secret generated into the data folder.
The two open doors (codes in responses, the sandbox checkout) are defaults there only: once
PostgreSQL or Redis is configured they must be chosen (`OTP_DELIVERY=response`,
`PAYMENTS=sandbox`), and each choice is named in a warning at start (`open_doors`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from gemini_clone.domain.fallbacks import FallbackChains, FallbackError
from gemini_clone.domain.model_catalogue import CatalogueModel, ModelCatalogue
from gemini_clone.entrypoints.setting_checks import (
    check_database_url,
    check_networks,
    check_url,
    mask_url_password,
    named,
    read_env_file,
)

EMBEDDED_DATABASE_URL = "sqlite+aiosqlite:///./gemini_clone.db"
SECRET_FIELDS = frozenset(
    {
        "jwt_secret",
        "gemini_api_key",
        "openai_api_key",
        "stripe_secret_key",
        "stripe_webhook_secret",
    }
)
REDIS_SCHEMES = frozenset({"redis", "rediss", "unix"})
HTTP_URL_FIELDS = (
    "public_base_url",
    "gemini_base_url",
    "stripe_api_base",
    "stripe_success_url",
    "stripe_cancel_url",
    "s3_endpoint_url",
)

AtLeastOne = Annotated[int, msgspec.Meta(ge=1)]
NotNegative = Annotated[int, msgspec.Meta(ge=0)]
Seconds = Annotated[float, msgspec.Meta(gt=0)]


class Settings(msgspec.Struct, kw_only=True, frozen=True):
    database_url: str = EMBEDDED_DATABASE_URL
    database_pool_size: AtLeastOne = 40
    """PostgreSQL connections a process keeps open at most (opened as load needs them)."""
    database_transaction_pooler: bool = False
    """PostgreSQL is reached through PgBouncer (or another pooler) in transaction pooling
    mode: no prepared statement is kept on the server between statements."""
    data_dir: str = ".gemini_clone"
    """Where the embedded mode keeps its generated JWT secret (and, by default, attachment
    bytes: `BLOB_DIR`)."""
    redis_url: str | None = None
    redis_max_connections: Annotated[int, msgspec.Meta(ge=8)] = 64
    """Redis connections a process's client opens at most; a burst waits for one. A few are
    held for good (the shared read of reply pieces, pub/sub listeners)."""
    public_base_url: str | None = None

    jwt_secret: str | None = None
    access_token_ttl_seconds: AtLeastOne = 900
    refresh_token_ttl_days: AtLeastOne = 30
    otp_delivery: Literal["response", "log"] | None = None
    """`response` puts the code in the answer (the assignment's mocked OTP: anyone may log
    in as any number), `log` only logs it. Unset: `response` in embedded mode, else `log`."""
    auth_rate_limit_per_minute: NotNegative = 120
    """0 turns the per-address throttle off."""
    share_rate_limit_per_minute: NotNegative = 60
    """Reads of shared links (`GET /share/{id}`, no token) a minute from one client address;
    0 turns it off."""
    forwarded_allow_ips: str | None = None
    """Comma-separated addresses or networks of the proxies in front (`10.0.0.5,10.1.0.0/16`):
    from them only, the client's address is read from `X-Forwarded-For` or `Forwarded` (the
    right-most hop that is not one of them). Unset: only the socket address counts. `serve`
    hands the same list to uvicorn."""

    basic_daily_limit: NotNegative | None = 5
    pro_daily_limit: NotNegative | None = None
    chatroom_cache_ttl: AtLeastOne = 300
    import_max_bytes: AtLeastOne = 50 * 1024 * 1024
    """The largest file `POST /chatroom/import` takes (bytes); a larger one is refused with
    413 `import_too_large` as soon as that much has arrived."""
    search_language: Annotated[str, msgspec.Meta(pattern="^[a-z_][a-z0-9_]*$")] = "english"
    """The PostgreSQL text search configuration of `GET /search` (stemming and stop words):
    the index is built with it by `gemini-clone db upgrade`, and a process whose setting
    names another refuses to start. Embedded SQLite always stems English (FTS5 Porter)."""
    attachment_max_bytes: AtLeastOne = 20 * 1024 * 1024
    """The largest file an upload takes (413 `attachment_too_large` past it, reading no
    further)."""
    basic_storage_bytes: NotNegative = 100 * 1024 * 1024
    """The bytes of files a Basic user keeps (413 `storage_quota_exceeded` past it)."""
    pro_storage_bytes: NotNegative = 5 * 1024 * 1024 * 1024
    """The bytes of files a Pro user keeps."""
    attachment_sweep_interval_seconds: AtLeastOne = 3600
    """How often the sweeper removes uploads left on no message for a day and blobs no row
    names (processes that run jobs)."""

    gemini_api_key: str | None = None
    gemini_model: str = "gemini-2.5-flash"
    gemini_models: str | None = None
    """Comma-separated Gemini model ids people may pick for a room; unset: `GEMINI_MODEL`
    alone."""
    pro_models: str | None = None
    """Comma-separated model ids only Pro users may pick (never the default model)."""
    title_model: str | None = None
    """The model asked for room titles; unset: the default model. A cheap, fast one such as
    `gemini-2.5-flash-lite` is the advice: a title needs no thinking."""
    gemini_base_url: str = "https://generativelanguage.googleapis.com"
    gemini_timeout_seconds: Seconds = 60.0
    gemini_max_attempts: AtLeastOne = 4
    gemini_temperature: Annotated[float, msgspec.Meta(ge=0, le=2)] | None = None
    gemini_max_output_tokens: AtLeastOne | None = None
    openai_base_url: str | None = None
    """An OpenAI-compatible server (Ollama: `http://127.0.0.1:11434/v1`); unset, none is used."""
    openai_api_key: str | None = None
    """The key, for servers that want one (OpenAI, OpenRouter, Groq; Ollama needs none)."""
    openai_models: str | None = None
    """The models that server offers, comma-separated; the first is its default."""
    openai_vision_models: str | None = None
    """Those of OPENAI_MODELS that read images, comma-separated (`GET /models` `inputs`)."""
    openai_timeout_seconds: Seconds = 120.0
    openai_max_attempts: AtLeastOne = 4
    default_model: str | None = None
    """The model answering when none is asked for; unset: the first configured one."""
    model_fallbacks: str | None = None
    """Fallback chains, links `asked>next` comma-separated
    (`gemini-2.5-pro>gemini-2.5-flash,gemini-2.5-flash>gemini-2.0-flash`): a reply whose
    model's retries end on 429, 5xx or a timeout is written by the next model of its chain.
    Catalogue models only, no cycle, never a Basic model to a Pro one; unset: none."""
    circuit_failures: AtLeastOne = 5
    """Failed replies in a row that open a model's circuit: its replies then go straight to
    its fallback (`MODEL_FALLBACKS`) for `CIRCUIT_COOLDOWN` seconds."""
    circuit_cooldown: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    """Seconds an open circuit sends its model's replies to the fallback before one reply
    tries the model again (success closes it, failure opens it again)."""
    system_instruction: str | None = None
    context_token_budget: AtLeastOne = 8000
    history_summaries: bool = True
    """Long chats: what falls out of a path's history budget is summarised, and the summary
    leads the history (a quarter of `CONTEXT_TOKEN_BUDGET` is kept for it); false: the
    oldest turns are only dropped."""
    summary_model: str | None = None
    """The model that writes long chats' summaries; unset: `TITLE_MODEL` (else the default
    model)."""
    offline_model_latency_seconds: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    """Embedded model only: a pause before each answer (to try waiting, or to benchmark)."""
    offline_model_word_delay_seconds: Annotated[float, msgspec.Meta(ge=0)] = 0.03
    """Embedded model only: a pause before each word after the first, so that its answers
    stream the way a real model's do (0: all at once)."""

    reply_lease_seconds: AtLeastOne = 120
    sweep_interval_seconds: AtLeastOne = 30
    stale_reply_seconds: AtLeastOne = 30
    """A reply still queued this long, whose job the queue lost or a worker ran without
    producing it, is queued again by the sweeper (until 2026-12 this was
    SWEEP_INTERVAL_SECONDS)."""
    worker_concurrency: AtLeastOne = 512
    worker_metrics_port: Annotated[int, msgspec.Meta(ge=1, le=65535)] | None = None
    """`gemini-clone worker` only: serve the process's Prometheus metrics (replies by status,
    generation latency) on this port, at `/metrics`; unset, they are not served."""
    worker_shutdown_grace_seconds: Annotated[float, msgspec.Meta(ge=0)] = 20.0
    """How long a stopping worker lets running generations finish before it hands the rest
    back to the queue (keep it below the platform's kill timeout, Kubernetes' 30 s)."""

    payments: Literal["stripe", "sandbox"] | None = None
    """`stripe`, or `sandbox` (a checkout page of this app's own: Pro for free). Unset:
    Stripe when STRIPE_SECRET_KEY is set, else the sandbox in embedded mode only; outside it
    `/subscribe/pro` answers 503 `payments_not_configured`."""
    stripe_secret_key: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_pro_price_id: str | None = None
    stripe_api_base: str | None = None
    stripe_success_url: str | None = None
    stripe_cancel_url: str | None = None

    blob_dir: str | None = None
    """The folder attachment bytes are kept in when S3_BUCKET is unset; unset: `blobs` in
    DATA_DIR. Every API and worker process must see the same folder."""
    s3_bucket: str | None = None
    """Keep attachment bytes in this S3-compatible bucket instead of a folder. Credentials and
    region come from the usual AWS variables, read by the client itself, never by this app."""
    s3_endpoint_url: str | None = None
    """The S3-compatible server (MinIO, R2, a test server); unset: AWS S3."""
    image_max_pixels: AtLeastOne = 50_000_000
    """An attached image with more pixels is refused (413 `image_too_large`) from its header,
    before any pixel is decoded: the guard against decompression bombs."""

    web_ui: bool = True
    """Serve the chat page at `/` (its files under `/web/`); false serves no page, the API
    and its docs stay."""

    log_level: str = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"

    def __post_init__(self) -> None:
        check_database_url(self.database_url)
        if self.redis_url is not None:
            check_url("REDIS_URL", self.redis_url, REDIS_SCHEMES, "redis://host:6379/0")
        for name in HTTP_URL_FIELDS:
            value = getattr(self, name)
            if value is not None:
                # Stripe's return URLs may start with `{base_url}`, filled in per request.
                check_url(
                    name.upper(),
                    value.replace("{base_url}", "https://base.example", 1)
                    if value.startswith("{base_url}/")
                    else value,
                    {"http", "https"},
                    "https://host/...",
                )
        if self.forwarded_allow_ips is not None:
            check_networks("FORWARDED_ALLOW_IPS", self.forwarded_allow_ips)
        if self.payments == "stripe" and not self.stripe_secret_key:
            raise ValueError(
                "Invalid setting PAYMENTS: stripe needs STRIPE_SECRET_KEY (with "
                "STRIPE_WEBHOOK_SECRET and STRIPE_PRO_PRICE_ID)."
            )

    @property
    def gemini_model_ids(self) -> tuple[str, ...]:
        """`GEMINI_MODELS`, with `GEMINI_MODEL` first when the list leaves it out."""
        listed = model_ids(self.gemini_models)
        return listed if self.gemini_model in listed else (self.gemini_model, *listed)

    @property
    def pro_model_ids(self) -> tuple[str, ...]:
        return model_ids(self.pro_models)

    @property
    def blob_folder(self) -> Path:
        return Path(self.blob_dir) if self.blob_dir else Path(self.data_dir) / "blobs"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_embedded(self) -> bool:
        """SQLite and no Redis: one process on one machine, where the open doors are the
        defaults."""
        return self.is_sqlite and self.redis_url is None

    @property
    def otp_delivery_in_use(self) -> Literal["response", "log"]:
        if self.otp_delivery is not None:
            return self.otp_delivery
        return "response" if self.is_embedded else "log"

    @property
    def payments_in_use(self) -> Literal["stripe", "sandbox", "none"]:
        """`none`: no provider, so checkouts are refused (503 `payments_not_configured`)."""
        if self.payments is not None:
            return self.payments
        if self.stripe_secret_key:
            return "stripe"
        return "sandbox" if self.is_embedded else "none"

    @property
    def open_doors(self) -> tuple[str, ...]:
        """The open doors chosen outside embedded mode, as set: each is warned of at start."""
        if self.is_embedded:
            return ()
        chosen = (
            ("OTP_DELIVERY=response", self.otp_delivery_in_use == "response"),
            ("PAYMENTS=sandbox", self.payments_in_use == "sandbox"),
        )
        return tuple(name for name, is_open in chosen if is_open)

    def masked(self) -> dict[str, object]:
        """Every setting, secrets shown only as set or not (for `gemini-clone config`)."""
        values: dict[str, object] = msgspec.structs.asdict(self)
        for name in SECRET_FIELDS:
            if values[name]:
                values[name] = "****"
        for name in ("database_url", "redis_url", "s3_endpoint_url"):
            values[name] = mask_url_password(values[name])
        return values


def model_ids(listed: str | None) -> tuple[str, ...]:
    """Model ids of a comma-separated setting, trimmed, each once, in order."""
    names = (name.strip() for name in (listed or "").split(","))
    return tuple(dict.fromkeys(name for name in names if name))


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names it."""


GEMINI = "gemini"
OPENAI_COMPATIBLE = "openai_compatible"
OFFLINE = "offline"
OFFLINE_MODEL = "offline"
"""The providers, and the model the offline one serves."""


def make_model_catalogue(settings: Settings) -> ModelCatalogue:
    """The catalogue the settings describe; `SettingsError` names what to fix.

    | settings                                   | models (the default first)                  |
    |--------------------------------------------|---------------------------------------------|
    | nothing                                    | `offline` (the offline model)               |
    | GEMINI_API_KEY                             | GEMINI_MODEL and GEMINI_MODELS, by Gemini   |
    | OPENAI_BASE_URL + OPENAI_MODELS            | OPENAI_MODELS, served by that server        |
    | both                                       | Gemini's, then OPENAI_MODELS                |

    `DEFAULT_MODEL` picks another default among them. `OPENAI_API_KEY` alone chooses nothing:
    many machines have it set for other tools, so only `OPENAI_BASE_URL` turns the provider on.
    """
    models: list[CatalogueModel] = []
    if settings.gemini_api_key:
        models.extend(
            CatalogueModel(id=model.removeprefix("models/"), provider=GEMINI)
            for model in settings.gemini_model_ids
        )
    openai_ids = model_ids(settings.openai_models)
    if settings.openai_base_url:
        if not settings.openai_base_url.startswith(("http://", "https://")):
            raise SettingsError(
                "Invalid setting: OPENAI_BASE_URL must be an http:// or https:// URL "
                "(for Ollama: http://127.0.0.1:11434/v1)"
            )
        if not openai_ids:
            raise SettingsError(
                "Invalid setting: OPENAI_BASE_URL is set but OPENAI_MODELS is empty; list the "
                "models the server offers, comma-separated (e.g. OPENAI_MODELS=llama3.2)"
            )
        models.extend(CatalogueModel(id=model, provider=OPENAI_COMPATIBLE) for model in openai_ids)
        unserved = set(model_ids(settings.openai_vision_models)) - set(openai_ids)
        if unserved:
            raise SettingsError(
                "Invalid setting: OPENAI_VISION_MODELS names models OPENAI_MODELS does not "
                f"list: {', '.join(sorted(unserved))}"
            )
    elif openai_ids:
        raise SettingsError(
            "Invalid setting: OPENAI_MODELS is set but OPENAI_BASE_URL is not; set the "
            "server's address (for Ollama: http://127.0.0.1:11434/v1)"
        )
    if not models:
        models.append(CatalogueModel(id=OFFLINE_MODEL, provider=OFFLINE))
    try:
        return ModelCatalogue(models, default=settings.default_model or models[0].id)
    except ValueError as error:
        raise SettingsError(
            f"Invalid setting (GEMINI_MODEL, OPENAI_MODELS or DEFAULT_MODEL): {error}"
        ) from None


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: str | Path | None = ".env"
) -> Settings:
    """Read settings from `environ` (default: the process environment) over `env_file`."""
    environ = os.environ if environ is None else environ
    raw: dict[str, str] = {}
    if env_file is not None and Path(env_file).is_file():
        raw.update(read_env_file(Path(env_file)))
    raw.update(environ)
    fields = {name: raw[name.upper()] for name in Settings.__struct_fields__ if name.upper() in raw}
    values: dict[str, object] = {}
    for name, text in fields.items():
        values[name] = None if text.strip() == "" else text.strip()
    try:
        settings = msgspec.convert(values, Settings, strict=False)
    except msgspec.ValidationError as error:
        raise SettingsError(named(str(error))) from None
    # Checked on load so that every command reports a bad model setting in one line.
    make_fallback_chains(settings, make_model_catalogue(settings))
    return settings


def make_fallback_chains(settings: Settings, catalogue: ModelCatalogue) -> FallbackChains:
    """`MODEL_FALLBACKS` over the catalogue; `SettingsError` names what to fix."""
    try:
        return FallbackChains.parse(
            settings.model_fallbacks, catalogue=catalogue.ids, pro_only=settings.pro_model_ids
        )
    except FallbackError as error:
        raise SettingsError(f"Invalid setting MODEL_FALLBACKS: {error}.") from None
