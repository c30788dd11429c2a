"""Checks and parsing behind `settings.load_settings`: URLs, networks, the `.env` file, and
error messages that name the variable as users know it."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection
from pathlib import Path
from urllib.parse import urlsplit

DATABASE_SCHEMES = frozenset(
    {"postgres", "postgresql", "postgresql+asyncpg", "sqlite", "sqlite+aiosqlite"}
)
"""What `adapters.sql.engine.normalize_url` accepts; checked here so that a bad URL is one
clear line at start, not a driver's traceback at the first query."""


def check_database_url(url: str) -> None:
    scheme = url.partition("://")[0].lower()
    if scheme.startswith("sqlite") and scheme in DATABASE_SCHEMES:
        return
    check_url(
        "DATABASE_URL", url, DATABASE_SCHEMES, "postgresql://user@host/db or sqlite:///file.db"
    )


def check_networks(name: str, listed: str) -> None:
    """IP addresses and networks, comma-separated; never `*`, which would let any client
    write its own address."""
    for entry in (part.strip() for part in listed.split(",")):
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(
                f"Invalid setting {name}: {entry!r} is not an IP address or network; list "
                "the proxies' addresses, such as 10.0.0.5,10.1.0.0/16."
            ) from None


def check_url(name: str, url: str, schemes: Collection[str], example: str) -> None:
    """A URL of one of `schemes`, with a numeric port if any and, over HTTP, a host.

    A database or Redis URL may leave the host out: the driver's default (a local socket)."""
    shown = mask_url_password(url)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (parsing the port is the check: it raises on a bad one)
    except ValueError:
        raise ValueError(
            f"Invalid setting {name}: {shown!r} has a bad port; use {example}."
        ) from None
    if parts.scheme.lower() not in schemes:
        raise ValueError(f"Invalid setting {name}: {shown!r} is not supported; use {example}.")
    if parts.scheme in ("http", "https") and not parts.hostname:
        raise ValueError(f"Invalid setting {name}: {shown!r} names no host; use {example}.")


def read_env_file(path: Path) -> dict[str, str]:
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


def named(message: str) -> str:
    """`Invalid setting NAME: what is wrong`, naming the variable as users know it
    (msgspec names the field `$.field_name` at the end)."""
    if message.startswith("Invalid setting"):
        return message
    found = re.fullmatch(r"(.*) - at `\$\.(\w+)`", message)
    if found is None:
        return f"Invalid setting: {message}"
    problem, field = found.groups()
    return f"Invalid setting {field.upper()}: {problem[:1].lower()}{problem[1:]}."


def mask_url_password(url: object) -> object:
    if not isinstance(url, str) or "@" not in url or "://" not in url:
        return url
    scheme, _, rest = url.partition("://")
    credentials, _, host = rest.rpartition("@")
    user, sep, _ = credentials.partition(":")
    return f"{scheme}://{user}{':****' if sep else ''}@{host}"
