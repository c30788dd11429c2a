from __future__ import annotations

from dataclasses import dataclass

from gemini_clone.domain.errors import NotFound
from gemini_clone.domain.ids import UserId
from gemini_clone.ports.payments import PaymentGateway
from gemini_clone.ports.repositories import UnitOfWorkFactory


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenBillingPortalInput:
    user_id: UserId
    return_url: str


class OpenBillingPortal:
    """A link to the provider's billing portal, to manage or cancel the subscription.

    - Only for users the provider knows as a customer (404 `no_subscription` otherwise).
    """

    def __init__(self, uow: UnitOfWorkFactory, gateway: PaymentGateway) -> None:
        self._uow = uow
        self._gateway = gateway

    async def execute(self, data: OpenBillingPortalInput) -> str:
        async with self._uow() as uow:
            subscription = await uow.subscriptions.get(data.user_id)
        if subscription is None or subscription.stripe_customer_id is None:
            raise NotFound("There is no subscription to manage.", code="no_subscription")
        return await self._gateway.portal_url(subscription.stripe_customer_id, data.return_url)
