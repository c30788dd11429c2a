"""Verified Stripe events read into `PaymentEvent`s, in every payload shape Stripe sends.

The shape of `data.object` follows the API version of the webhook endpoint, not the one this
service pins for its requests, so both old and new shapes are read:

- invoices: the subscription id at top level (before 2025-03-31) or under
  `parent.subscription_details` (since); our metadata under `subscription_details` (2022 to
  2025) or `parent.subscription_details`;
- subscriptions: `current_period_end` at top level (before 2025-03-31) or on each item (since);
- `customer` and `subscription` as id strings, or as objects when expanded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import NamedTuple
from uuid import UUID

from gemini_clone.domain.errors import PaymentError
from gemini_clone.domain.ids import UserId
from gemini_clone.domain.subscriptions import PaymentEvent

_NOTHING: Mapping[str, object] = {}
_PAID = frozenset({"paid", "no_payment_required"})


class _Envelope(NamedTuple):
    id: str
    type: str
    created_at: datetime


def to_payment_event(event: object) -> PaymentEvent | None:
    """The `PaymentEvent` a decoded Stripe event stands for; None for types not acted on.

    Raises `PaymentError` (`invalid_payload`) when the envelope or its object is malformed.
    """
    envelope = _mapping(event)
    event_id, event_type = envelope.get("id"), envelope.get("type")
    if not isinstance(event_id, str) or not isinstance(event_type, str):
        raise _invalid("The event has no id or no type.")
    reader = _READERS.get(event_type)
    if reader is None:
        return None
    created = envelope.get("created")
    if not isinstance(created, int) or isinstance(created, bool):
        raise _invalid("The event has no creation time.")
    data_object = _mapping(_mapping(envelope.get("data")).get("object"))
    if not data_object:
        raise _invalid("The event has no data.object.")
    return reader(_Envelope(event_id, event_type, _timestamp(created)), data_object)


def _checkout_session_completed(
    envelope: _Envelope, session: Mapping[str, object]
) -> PaymentEvent | None:
    """A finished Checkout Session of ours links the user to a customer and a subscription.

    - Only `mode=subscription` sessions concern plans; other modes are not acted on.
    - The user is `client_reference_id`, else `metadata.user_id`.
    - Paid (or nothing to pay): `active`. Unpaid (a bank debit still clearing): no status;
      `invoice.paid` or `customer.subscription.updated` will tell.
    - An expanded subscription is the better witness: its own status and period win.
    """
    if session.get("mode") != "subscription":
        return None
    subscription = _mapping(session.get("subscription"))
    status = _string(subscription.get("status"))
    if status is None and session.get("payment_status") in _PAID:
        status = "active"
    return PaymentEvent(
        id=envelope.id,
        type=envelope.type,
        created_at=envelope.created_at,
        user_id=_first_user_id(
            session.get("client_reference_id"),
            _user_id_in(session),
            _user_id_in(subscription),
        ),
        customer_id=_id_of(session.get("customer")),
        subscription_id=_id_of(session.get("subscription")),
        status=status,
        current_period_end=_period_end(subscription),
        cancel_at_period_end=_boolean(subscription.get("cancel_at_period_end")),
    )


def _subscription_changed(
    envelope: _Envelope, subscription: Mapping[str, object]
) -> PaymentEvent | None:
    """A subscription's own state: status, period end and whether it ends there.

    - `customer.subscription.deleted` means `canceled`, whatever else the object says.
    - The user is `metadata.user_id` (set through `subscription_data.metadata` at checkout).
    """
    subscription_id = _string(subscription.get("id"))
    if subscription_id is None:
        raise _invalid("The subscription has no id.")
    deleted = envelope.type == "customer.subscription.deleted"
    return PaymentEvent(
        id=envelope.id,
        type=envelope.type,
        created_at=envelope.created_at,
        user_id=_first_user_id(_user_id_in(subscription)),
        customer_id=_id_of(subscription.get("customer")),
        subscription_id=subscription_id,
        status="canceled" if deleted else _string(subscription.get("status")),
        current_period_end=_period_end(subscription),
        cancel_at_period_end=_boolean(subscription.get("cancel_at_period_end")),
    )


def _invoice_settled(envelope: _Envelope, invoice: Mapping[str, object]) -> PaymentEvent | None:
    """A subscription invoice paid (`active`) or failed (`past_due`, the grace period).

    - Invoices outside a subscription are not acted on.
    - The first invoice failing leaves a subscription `incomplete`, never `past_due`:
      there was no paid period to extend.
    """
    details = _mapping(_mapping(invoice.get("parent")).get("subscription_details"))
    legacy_details = _mapping(invoice.get("subscription_details"))
    subscription = invoice.get("subscription") or details.get("subscription")
    subscription_id = _id_of(subscription)
    if subscription_id is None:
        return None
    if envelope.type == "invoice.paid":
        status = "active"
    elif invoice.get("billing_reason") == "subscription_create":
        status = "incomplete"
    else:
        status = "past_due"
    return PaymentEvent(
        id=envelope.id,
        type=envelope.type,
        created_at=envelope.created_at,
        user_id=_first_user_id(
            _user_id_in(details), _user_id_in(legacy_details), _user_id_in(_mapping(subscription))
        ),
        customer_id=_id_of(invoice.get("customer")),
        subscription_id=subscription_id,
        status=status,
    )


_READERS: Mapping[str, Callable[[_Envelope, Mapping[str, object]], PaymentEvent | None]] = {
    "checkout.session.completed": _checkout_session_completed,
    "customer.subscription.created": _subscription_changed,
    "customer.subscription.updated": _subscription_changed,
    "customer.subscription.deleted": _subscription_changed,
    "invoice.paid": _invoice_settled,
    "invoice.payment_failed": _invoice_settled,
}


def _period_end(subscription: Mapping[str, object]) -> datetime | None:
    """The subscription's period end, or the latest of its items' (API 2025-03-31+)."""
    top_level = subscription.get("current_period_end")
    if isinstance(top_level, int) and not isinstance(top_level, bool):
        return _timestamp(top_level)
    items = _mapping(subscription.get("items")).get("data")
    ends = [
        end
        for item in (items if isinstance(items, list) else [])
        if isinstance(end := _mapping(item).get("current_period_end"), int)
        and not isinstance(end, bool)
    ]
    return _timestamp(max(ends)) if ends else None


def _user_id_in(stripe_object: Mapping[str, object]) -> object:
    return _mapping(stripe_object.get("metadata")).get("user_id")


def _first_user_id(*candidates: object) -> UserId | None:
    """The first candidate that is one of our user ids; others' references are skipped."""
    for candidate in candidates:
        if isinstance(candidate, str):
            try:
                return UserId(UUID(candidate))
            except ValueError:
                continue
    return None


def _id_of(value: object) -> str | None:
    """An id given as a string, or as the `id` of an expanded object."""
    if isinstance(value, str):
        return value or None
    return _string(_mapping(value).get("id"))


def _mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, dict) else _NOTHING


def _string(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _boolean(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _timestamp(unix_seconds: int) -> datetime:
    try:
        return datetime.fromtimestamp(unix_seconds, tz=UTC)
    except (OverflowError, OSError, ValueError) as error:
        raise _invalid(f"{unix_seconds} is not a valid time.") from error


def _invalid(message: str) -> PaymentError:
    return PaymentError(message, code="invalid_payload")
