"""Deleting an account: the user, and everything of theirs, wherever it is kept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from gemini_clone.application.auth.otp_codes import throttle_keys
from gemini_clone.application.cache_scope import forget_chatroom_list
from gemini_clone.domain.errors import FieldError, InvalidInput, NotFound
from gemini_clone.domain.ids import UserId
from gemini_clone.domain.subscriptions import Subscription
from gemini_clone.ports.cache import Cache, Throttle
from gemini_clone.ports.clock import Clock
from gemini_clone.ports.otp import MobileNumbers
from gemini_clone.ports.payments import PaymentGateway
from gemini_clone.ports.reply_pieces import Piece, PieceKind, ReplyPieces
from gemini_clone.ports.reply_stops import ReplyStops
from gemini_clone.ports.repositories import UnitOfWorkFactory

PIECES_KEPT_AT_MOST = timedelta(hours=2)
"""Longer than any reply's pieces are kept after its end (an hour for a reply that never
ended, five minutes after `done`): the replies whose pieces may still be stored."""
ENDED_SUBSCRIPTIONS = frozenset({"canceled", "incomplete_expired"})
"""Stripe statuses after which nothing more is charged."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteAccountInput:
    user_id: UserId
    confirm: str
    """The account's mobile number, as the user types it."""


class DeleteAccount:
    """Delete the caller's account and everything of theirs.

    - `confirm` must be the account's number (normalised as at sign-up); anything else is
      422 `confirmation_mismatch` and changes nothing.
    - A subscription that could still charge is cancelled first, through the payments port;
      when the provider cannot be reached the answer is 503 and nothing is deleted.
    - One transaction: the pending replies of every room cancelled, then the user and every
      row of theirs (rooms, messages, shared links, codes, refresh tokens, subscription,
      daily counts, usage-ledger rows). Payment events stay: they hold event ids only.
    - Then: replies being written are stopped wherever they run and their streams end; the
      pieces of recent replies, the cached room list and the number's code throttles are
      deleted. The number can sign up again at once.
    - Access tokens already issued (until they expire) name a user that no longer exists:
      they find nothing (404s, empty lists), and creating a room with one is 404
      `user_not_found`.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        numbers: MobileNumbers,
        payments: PaymentGateway,
        cache: Cache,
        throttle: Throttle,
        pieces: ReplyPieces,
        stops: ReplyStops,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._numbers = numbers
        self._payments = payments
        self._cache = cache
        self._throttle = throttle
        self._pieces = pieces
        self._stops = stops
        self._clock = clock

    async def execute(self, data: DeleteAccountInput) -> None:
        async with self._uow() as uow:
            user = await uow.users.get(data.user_id)
            subscription = await uow.subscriptions.get(data.user_id)
        if user is None:
            raise NotFound("The user no longer exists.", code="user_not_found")
        if not _confirms(self._numbers, data.confirm, user.mobile_number):
            problem = "Type the account's mobile number to confirm."
            raise InvalidInput(
                problem, code="confirmation_mismatch", errors=(FieldError("confirm", problem),)
            )
        charging = _charging_subscription_id(subscription)
        if charging is not None:
            await self._payments.cancel_subscription(charging)
        now = self._clock.now()
        async with self._uow() as uow:
            recent = await uow.messages.replies_finished_since(
                data.user_id, now - PIECES_KEPT_AT_MOST
            )
            cancelled = await uow.messages.cancel_pending_of_user(data.user_id, now)
            await uow.users.delete(data.user_id)
            await uow.commit()
        for reply_id in cancelled:
            await self._stops.request(reply_id)
            self._pieces.publish(reply_id, Piece(kind=PieceKind.DONE))
        await self._pieces.forget([*recent, *cancelled])
        await forget_chatroom_list(self._cache, data.user_id)
        for key in throttle_keys(user.mobile_number):
            await self._throttle.reset(key)


def _confirms(numbers: MobileNumbers, typed: str, mobile_number: str) -> bool:
    try:
        return numbers.normalize(typed) == mobile_number
    except InvalidInput:
        return False


def _charging_subscription_id(subscription: Subscription | None) -> str | None:
    """The provider's id of a subscription that could still charge, if any."""
    if subscription is None or subscription.status in ENDED_SUBSCRIPTIONS:
        return None
    return subscription.stripe_subscription_id
