"""Every use case wired on fresh in-memory adapters: no I/O, time under the test's control."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from tests.unit.fakes import (
    ClockSleep,
    RecordingPaymentGateway,
    ScriptedLanguageModel,
    SlowCache,
)

from gemini_clone.adapters.memory.blobs import InMemoryBlobStore
from gemini_clone.adapters.memory.cache import InMemoryCache, InMemoryThrottle
from gemini_clone.adapters.memory.clock import FixedClock, SequentialIdGenerator
from gemini_clone.adapters.memory.jobs import InMemoryReplyJobs
from gemini_clone.adapters.memory.posting import InMemoryPosting
from gemini_clone.adapters.memory.replies import InMemoryReplyStore
from gemini_clone.adapters.memory.reply_pieces import InMemoryReplyPieces
from gemini_clone.adapters.memory.reply_stops import InMemoryReplyStops
from gemini_clone.adapters.memory.security import (
    InMemoryOtpSender,
    InMemoryPasswordHasher,
    InMemoryTokenService,
    SimpleMobileNumbers,
)
from gemini_clone.adapters.memory.tables import InMemoryStore
from gemini_clone.adapters.memory.unit_of_work import InMemoryUnitOfWork
from gemini_clone.application.auth.get_me import GetMe
from gemini_clone.application.auth.login import PasswordLogin, PasswordLoginInput
from gemini_clone.application.auth.logout import Logout
from gemini_clone.application.auth.otp_codes import OtpChecker, OtpIssuer, SendOtpInput
from gemini_clone.application.auth.passwords import ChangePassword, ResetPassword
from gemini_clone.application.auth.refresh import RefreshSession
from gemini_clone.application.auth.send_otp import ForgotPassword, SendOtp
from gemini_clone.application.auth.sessions import SessionIssuer, TokenPair
from gemini_clone.application.auth.signup import SignUp, SignUpInput
from gemini_clone.application.auth.verify_otp import VerifyOtp, VerifyOtpInput
from gemini_clone.application.billing.apply_payment_event import ApplyPaymentEvent, EventOutcome
from gemini_clone.application.billing.checkout import StartCheckout
from gemini_clone.application.billing.portal import OpenBillingPortal
from gemini_clone.application.billing.status import GetSubscriptionStatus
from gemini_clone.application.billing.support import SetProBySupport
from gemini_clone.application.chatrooms.create import CreateChatroom, CreateChatroomInput
from gemini_clone.application.chatrooms.delete import DeleteChatroom
from gemini_clone.application.chatrooms.get import GetChatroom
from gemini_clone.application.chatrooms.listing import ListChatrooms
from gemini_clone.application.chatrooms.models import ListModels
from gemini_clone.application.chatrooms.titles import TitleChatroom
from gemini_clone.application.chatrooms.update import UpdateChatroom
from gemini_clone.application.hashing import KeyedHasher
from gemini_clone.application.messaging.generate_reply import (
    GenerateReply,
    ReplyOutcome,
    ReplySettings,
)
from gemini_clone.application.messaging.new_version import EditQuestion, RegenerateReply
from gemini_clone.application.messaging.paid_exchange import StoredExchange
from gemini_clone.application.messaging.question_files import PostedFiles, QuestionFiles
from gemini_clone.application.messaging.reading import GetMessage, ListMessages, WaitForReply
from gemini_clone.application.messaging.requeue import RequeueStaleReplies
from gemini_clone.application.messaging.send_message import (
    SendMessage,
    SendMessageInput,
)
from gemini_clone.application.messaging.stop_reply import StopReply
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.ids import MessageId, UserId
from gemini_clone.domain.messages import Message
from gemini_clone.domain.model_access import ModelAccess
from gemini_clone.domain.quota import Plans
from gemini_clone.domain.subscriptions import PaymentEvent
from gemini_clone.domain.users import User
from gemini_clone.ports.repositories import UnitOfWork, UnitOfWorkFactory

START = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
"""A Monday morning, UTC: far enough from midnight that the quota day does not turn."""

DEFAULT_MODEL = "model-a"
MODELS = {"model-a": "gemini", "model-b": "gemini", "model-pro": "gemini", "title-model": "gemini"}
PRO_MODELS = ("model-pro",)
MODEL_INPUTS = {"model-a": ("image", "pdf")}
"""What each model reads besides text (the others read text only)."""

ALICE = "+919876543210"
BOB = "+14155550123"
PASSWORD = "correct horse battery"


@dataclass
class World:
    """The fakes, and every use case wired on them."""

    clock: FixedClock
    ids: SequentialIdGenerator
    store: InMemoryStore
    uow: UnitOfWorkFactory
    cache: SlowCache
    throttle: InMemoryThrottle
    jobs: InMemoryReplyJobs
    otp_sender: InMemoryOtpSender
    numbers: SimpleMobileNumbers
    passwords: InMemoryPasswordHasher
    tokens: InMemoryTokenService
    model: ScriptedLanguageModel
    gateway: RecordingPaymentGateway
    plans: Plans
    sleep: ClockSleep
    reply_settings: ReplySettings
    models: ModelAccess
    blobs: InMemoryBlobStore

    signup: SignUp
    send_otp: SendOtp
    forgot_password: ForgotPassword
    verify_otp: VerifyOtp
    password_login: PasswordLogin
    refresh: RefreshSession
    logout: Logout
    reset_password: ResetPassword
    change_password: ChangePassword
    get_me: GetMe

    create_chatroom: CreateChatroom
    list_chatrooms: ListChatrooms
    get_chatroom: GetChatroom
    update_chatroom: UpdateChatroom
    list_models: ListModels
    title_model: ScriptedLanguageModel
    title_chatroom: TitleChatroom
    delete_chatroom: DeleteChatroom

    send_message: SendMessage
    regenerate_reply: RegenerateReply
    edit_question: EditQuestion
    generate_reply: GenerateReply
    list_messages: ListMessages
    get_message: GetMessage
    wait_for_reply: WaitForReply
    requeue: RequeueStaleReplies

    start_checkout: StartCheckout
    apply_payment_event: ApplyPaymentEvent
    subscription_status: GetSubscriptionStatus
    billing_portal: OpenBillingPortal
    support: SetProBySupport

    event_numbers: list[int] = field(default_factory=lambda: [0])

    # Helpers: each drives the real use cases, never the store behind them.

    async def new_user(self, mobile_number: str = ALICE, password: str | None = None) -> User:
        return await self.signup.execute(
            SignUpInput(mobile_number=mobile_number, password=password)
        )

    async def login(self, mobile_number: str = ALICE) -> TokenPair:
        await self.send_otp.execute(SendOtpInput(mobile_number=mobile_number))
        pair = await self.verify_otp.execute(
            VerifyOtpInput(
                mobile_number=mobile_number, otp=self.otp_sender.last_code(mobile_number)
            )
        )
        # Lets the next code be sent without hitting the resend cooldown.
        self.clock.advance(timedelta(seconds=31))
        return pair

    async def password_pair(self, mobile_number: str, password: str) -> TokenPair:
        return await self.password_login.execute(
            PasswordLoginInput(mobile_number=mobile_number, password=password)
        )

    async def new_chatroom(self, user: User, title: str | None = None) -> Chatroom:
        return await self.create_chatroom.execute(CreateChatroomInput(user_id=user.id, title=title))

    async def post(
        self, user: User, chatroom: Chatroom, content: str = "Hi!", request_id: str | None = None
    ) -> StoredExchange:
        return await self.send_message.execute(
            SendMessageInput(
                user_id=user.id, chatroom_id=chatroom.id, content=content, request_id=request_id
            )
        )

    async def run_jobs(self) -> list[ReplyOutcome]:
        """Run every queued reply job, as a worker would."""
        return [await self.generate_reply.execute(reply_id) for reply_id in self.jobs.take_all()]

    async def stored(self, message_id: MessageId) -> Message | None:
        """A message as stored, whoever owns it (the worker's read)."""
        async with self.uow() as uow:
            return await uow.messages.get_any(message_id)

    async def used_today(self, user_id: UserId) -> int:
        return (await self.get_me.execute(user_id)).usage.used_today

    async def pay(
        self,
        user: User,
        status: str = "active",
        *,
        after: timedelta = timedelta(seconds=1),
        customer_id: str | None = "cus_1",
        subscription_id: str | None = "sub_1",
    ) -> EventOutcome:
        """A provider event for the user, created `after` from now (the clock moves there)."""
        self.clock.advance(after)
        self.event_numbers[0] += 1
        return await self.apply_payment_event.execute(
            PaymentEvent(
                id=f"evt_{self.event_numbers[0]}",
                type="customer.subscription.updated",
                created_at=self.clock.now(),
                user_id=user.id,
                customer_id=customer_id,
                subscription_id=subscription_id,
                status=status,
            )
        )


WorldFactory = Callable[..., World]


def build_world(
    *,
    plans: Plans | None = None,
    reveal_otp: bool = True,
    reply_settings: ReplySettings | None = None,
) -> World:
    clock = FixedClock(START)
    ids = SequentialIdGenerator()
    store = InMemoryStore()
    uow_factory = _plain_unit_of_work_factory(store)

    def monotonic() -> float:
        return clock.now().timestamp()

    cache = SlowCache(InMemoryCache(monotonic=monotonic))
    throttle = InMemoryThrottle(monotonic=monotonic)
    jobs = InMemoryReplyJobs(clock)
    otp_sender = InMemoryOtpSender()
    numbers = SimpleMobileNumbers()
    passwords = InMemoryPasswordHasher()
    tokens = InMemoryTokenService(clock)
    model = ScriptedLanguageModel()
    gateway = RecordingPaymentGateway()
    plans = plans or Plans()
    sleep = ClockSleep(clock)
    reply_settings = reply_settings or ReplySettings()
    models = ModelAccess(MODELS, default=DEFAULT_MODEL, pro_only=PRO_MODELS, inputs=MODEL_INPUTS)
    title_model = ScriptedLanguageModel()
    title_model.answer("Monads explained")
    posting = InMemoryPosting(store)
    blobs = InMemoryBlobStore(clock.now)
    pieces = InMemoryReplyPieces()
    stops = InMemoryReplyStops()
    title_chatroom = TitleChatroom(
        uow_factory, title_model, cache, clock, "title-model", models=models
    )
    stop_reply = StopReply(
        GetMessage(uow_factory), InMemoryReplyStore(store), stops, pieces, clock, sleep=sleep
    )

    hasher = KeyedHasher("unit-test-secret")
    sessions = SessionIssuer(tokens, hasher, ids)
    issuer = OtpIssuer(
        uow_factory,
        numbers,
        otp_sender,
        throttle,
        hasher,
        clock,
        ids,
        reveal_in_response=reveal_otp,
    )
    checker = OtpChecker(numbers, hasher, clock)
    get_message = GetMessage(uow_factory)
    apply = ApplyPaymentEvent(uow_factory, clock)

    return World(
        clock=clock,
        ids=ids,
        store=store,
        uow=uow_factory,
        cache=cache,
        throttle=throttle,
        jobs=jobs,
        otp_sender=otp_sender,
        numbers=numbers,
        passwords=passwords,
        tokens=tokens,
        model=model,
        gateway=gateway,
        plans=plans,
        sleep=sleep,
        reply_settings=reply_settings,
        models=models,
        blobs=blobs,
        signup=SignUp(uow_factory, numbers, passwords, clock, ids),
        send_otp=SendOtp(issuer),
        forgot_password=ForgotPassword(issuer),
        verify_otp=VerifyOtp(uow_factory, checker, sessions, clock),
        password_login=PasswordLogin(uow_factory, numbers, passwords, sessions, clock),
        refresh=RefreshSession(uow_factory, sessions, clock),
        logout=Logout(uow_factory, sessions, clock),
        reset_password=ResetPassword(uow_factory, checker, passwords, clock),
        change_password=ChangePassword(uow_factory, passwords),
        get_me=GetMe(uow_factory, plans, clock),
        create_chatroom=CreateChatroom(uow_factory, cache, clock, ids, models),
        list_chatrooms=ListChatrooms(uow_factory, cache),
        get_chatroom=GetChatroom(uow_factory),
        update_chatroom=UpdateChatroom(uow_factory, cache, clock, models),
        list_models=ListModels(uow_factory, models),
        title_model=title_model,
        title_chatroom=title_chatroom,
        delete_chatroom=DeleteChatroom(uow_factory, cache, clock, pieces, blobs),
        send_message=SendMessage(
            posting, jobs, cache, plans, clock, ids, files=PostedFiles(uow_factory, models)
        ),
        regenerate_reply=RegenerateReply(
            uow_factory, posting, stop_reply, pieces, jobs, cache, plans, clock, ids, models=models
        ),
        edit_question=EditQuestion(
            uow_factory, posting, stop_reply, pieces, jobs, cache, plans, clock, ids
        ),
        generate_reply=GenerateReply(
            InMemoryReplyStore(store),
            model,
            clock,
            reply_settings,
            models,
            titles=title_chatroom,
            files=QuestionFiles(uow_factory, blobs, models),
        ),
        list_messages=ListMessages(uow_factory),
        get_message=get_message,
        wait_for_reply=WaitForReply(get_message, clock, sleep),
        requeue=RequeueStaleReplies(uow_factory, jobs, clock),
        start_checkout=StartCheckout(uow_factory, gateway, ids),
        apply_payment_event=apply,
        subscription_status=GetSubscriptionStatus(uow_factory, plans, clock),
        billing_portal=OpenBillingPortal(uow_factory, gateway),
        support=SetProBySupport(uow_factory, apply, numbers, clock, ids),
    )


def _plain_unit_of_work_factory(store: InMemoryStore) -> UnitOfWorkFactory:
    def factory() -> UnitOfWork:
        return InMemoryUnitOfWork(store)

    return factory


@pytest.fixture
def make_world() -> WorldFactory:
    """Build a world with other settings (plans, OTP reveal, reply settings, unit of work)."""
    return build_world


@pytest.fixture
def world() -> World:
    return build_world()


@pytest.fixture
async def alice(world: World) -> User:
    return await world.new_user(ALICE)


@pytest.fixture
async def bob(world: World) -> User:
    return await world.new_user(BOB)


@pytest.fixture
async def room(world: World, alice: User) -> Chatroom:
    return await world.new_chatroom(alice, "Alice's room")
