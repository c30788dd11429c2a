from __future__ import annotations

from dataclasses import dataclass

from gemini_clone.application.plans import tier_of
from gemini_clone.domain.errors import Conflict, NotFound
from gemini_clone.domain.ids import UserId
from gemini_clone.domain.subscriptions import Tier
from gemini_clone.ports.clock import IdGenerator
from gemini_clone.ports.payments import CheckoutRequest, CheckoutSession, PaymentGateway
from gemini_clone.ports.repositories import UnitOfWorkFactory


@dataclass(frozen=True, slots=True, kw_only=True)
class StartCheckoutInput:
    user_id: UserId
    base_url: str


class StartCheckout:
    """Open a checkout for the Pro plan.

    - A user already on Pro: 409 `already_pro`.
    - The user's customer at the provider is reused once known.
    - Each attempt carries its own idempotency key, so a retried network call cannot open
      two sessions, while a later attempt opens a fresh one.
    """

    def __init__(self, uow: UnitOfWorkFactory, gateway: PaymentGateway, ids: IdGenerator) -> None:
        self._uow = uow
        self._gateway = gateway
        self._ids = ids

    async def execute(self, data: StartCheckoutInput) -> CheckoutSession:
        async with self._uow() as uow:
            user = await uow.users.get(data.user_id)
            if user is None:
                raise NotFound("The user no longer exists.", code="user_not_found")
            tier, subscription = await tier_of(uow, data.user_id)
        if tier is Tier.PRO:
            raise Conflict("You are on the Pro plan already.", code="already_pro")
        return await self._gateway.start_checkout(
            CheckoutRequest(
                user_id=user.id,
                customer_id=subscription.stripe_customer_id if subscription else None,
                mobile_number=user.mobile_number,
                email=user.email,
                base_url=data.base_url,
                idempotency_key=f"checkout-{user.id}-{self._ids.new_id()}",
            )
        )
