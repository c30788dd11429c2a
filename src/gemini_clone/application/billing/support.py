from __future__ import annotations

from gemini_clone.application.billing.apply_payment_event import ApplyPaymentEvent, EventOutcome
from gemini_clone.domain.errors import NotFound
from gemini_clone.domain.subscriptions import PaymentEvent
from gemini_clone.ports.clock import Clock, IdGenerator
from gemini_clone.ports.otp import MobileNumbers
from gemini_clone.ports.repositories import UnitOfWorkFactory


class SetProBySupport:
    """Support staff grant or revoke Pro by hand (`gemini-clone subscriptions grant|revoke`).

    - Goes through the same rules as a payment event, dated now: a later provider event
      still wins over it.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        apply: ApplyPaymentEvent,
        numbers: MobileNumbers,
        clock: Clock,
        ids: IdGenerator,
    ) -> None:
        self._uow = uow
        self._apply = apply
        self._numbers = numbers
        self._clock = clock
        self._ids = ids

    async def execute(self, mobile_number: str, *, pro: bool) -> EventOutcome:
        number = self._numbers.normalize(mobile_number)
        async with self._uow() as uow:
            user = await uow.users.get_by_mobile(number)
        if user is None:
            raise NotFound("No user has this mobile number.", code="user_not_found")
        return await self._apply.execute(
            PaymentEvent(
                id=f"support_{'grant' if pro else 'revoke'}_{self._ids.new_id()}",
                type="support.grant" if pro else "support.revoke",
                created_at=self._clock.now(),
                user_id=user.id,
                status="active" if pro else "canceled",
            )
        )
