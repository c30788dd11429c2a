"""Stripe's webhook signature scheme, checked with the standard library.

`Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]`; each `v1` is the HMAC-SHA256
of `b"<t>." + raw body` keyed by the endpoint's whole `whsec_...` secret. While a secret is
being rolled Stripe signs with both, so any `v1` may match.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime

from gemini_clone.domain.errors import PaymentError

SIGNATURE_HEADER = "stripe-signature"


def signature_header(headers: Mapping[str, str]) -> str | None:
    """The `Stripe-Signature` value, whatever the case of the header's name."""
    return next(
        (value for name, value in headers.items() if name.lower() == SIGNATURE_HEADER), None
    )


def verify_signature(
    payload: bytes, header: str | None, *, secret: str, tolerance_seconds: int, now: datetime
) -> None:
    """Raise `PaymentError` unless `header` signs `payload` with `secret`, recently enough.

    - A missing or empty header: `missing_signature`.
    - A malformed header, no matching `v1`, or a timestamp more than `tolerance_seconds`
      away from `now` (either way: a replayed old delivery or a forged future one):
      `invalid_signature`.
    """
    if not header or not header.strip():
        raise PaymentError("The Stripe-Signature header is missing.", code="missing_signature")
    timestamp, signatures = _parse(header)
    signed = f"{timestamp}.".encode() + payload
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest().encode()
    if not any(hmac.compare_digest(expected, candidate.encode()) for candidate in signatures):
        raise PaymentError(
            "No signature in the Stripe-Signature header matches the payload.",
            code="invalid_signature",
        )
    if abs(now.timestamp() - timestamp) > tolerance_seconds:
        raise PaymentError(
            f"The Stripe-Signature timestamp is more than {tolerance_seconds} s away from now.",
            code="invalid_signature",
        )


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and timestamp is None:
            timestamp = _unix_seconds(value)
        elif key == "v1" and value:
            signatures.append(value.strip())
    if timestamp is None or not signatures:
        raise PaymentError(
            "The Stripe-Signature header has no timestamp or no v1 signature.",
            code="invalid_signature",
        )
    return timestamp, signatures


def _unix_seconds(value: str) -> int | None:
    value = value.strip()
    return int(value) if value.isascii() and value.isdigit() else None
