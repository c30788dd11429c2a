"""One container builds every adapter and use case from the settings.

The adapters are chosen each by its own setting (`adapter_choices.py`, with the table of
choices; the language model's providers in `model_providers.py`); here they are wired to
the use cases. The two open doors (codes in responses, the sandbox) are defaults in
embedded mode only; chosen outside it, each is logged as a warning when the container is
built.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from dependency_injector import containers, providers

from gemini_clone.adapters.archives import ArchiveFormats, JsonRoomWriter, MarkdownRoomWriter
from gemini_clone.adapters.archives.account_zip import ZipAccountArchive
from gemini_clone.adapters.jwt import JwtTokenService
from gemini_clone.adapters.security import Argon2PasswordHasher, PhonenumbersMobileNumbers
from gemini_clone.adapters.sql.search import SqlMessageSearch
from gemini_clone.adapters.sql.statistics import SqlReplyStatistics
from gemini_clone.adapters.sql.unit_of_work import sql_unit_of_work_factory
from gemini_clone.adapters.system import SystemClock, UuidGenerator
from gemini_clone.application.admin.list_users import ListUsers
from gemini_clone.application.admin.show_chatroom import ShowChatroom
from gemini_clone.application.admin.show_user import ShowUser
from gemini_clone.application.admin.usage_report import UsageReport
from gemini_clone.application.attachments.manage import DeleteAttachment, GetAttachment
from gemini_clone.application.attachments.sweep import SweepAttachments
from gemini_clone.application.attachments.upload import UploadAttachment
from gemini_clone.application.auth.delete_account import DeleteAccount
from gemini_clone.application.auth.export_account import ExportAccount
from gemini_clone.application.auth.get_me import GetMe
from gemini_clone.application.auth.login import PasswordLogin
from gemini_clone.application.auth.logout import Logout
from gemini_clone.application.auth.otp_codes import OtpChecker, OtpIssuer
from gemini_clone.application.auth.passwords import ChangePassword, ResetPassword
from gemini_clone.application.auth.refresh import RefreshSession
from gemini_clone.application.auth.send_otp import ForgotPassword, SendOtp
from gemini_clone.application.auth.sessions import SessionIssuer
from gemini_clone.application.auth.signup import SignUp
from gemini_clone.application.auth.verify_otp import VerifyOtp
from gemini_clone.application.billing.apply_payment_event import ApplyPaymentEvent
from gemini_clone.application.billing.checkout import StartCheckout
from gemini_clone.application.billing.portal import OpenBillingPortal
from gemini_clone.application.billing.status import GetSubscriptionStatus
from gemini_clone.application.billing.support import SetProBySupport
from gemini_clone.application.chatrooms.create import CreateChatroom
from gemini_clone.application.chatrooms.delete import DeleteChatroom
from gemini_clone.application.chatrooms.get import GetChatroom
from gemini_clone.application.chatrooms.listing import ListChatrooms
from gemini_clone.application.chatrooms.models import ListModels
from gemini_clone.application.chatrooms.search import SearchChats
from gemini_clone.application.chatrooms.titles import TitleChatroom
from gemini_clone.application.chatrooms.transfer import (
    ExportChatroom,
    ExportFormat,
    ImportChatrooms,
)
from gemini_clone.application.chatrooms.update import UpdateChatroom
from gemini_clone.application.hashing import KeyedHasher
from gemini_clone.application.messaging.batched_reading import BatchedGetMessage
from gemini_clone.application.messaging.branches import ForkChatroom, SwitchPath
from gemini_clone.application.messaging.fallback import ModelFallback
from gemini_clone.application.messaging.generate_reply import GenerateReply
from gemini_clone.application.messaging.new_version import EditQuestion, RegenerateReply
from gemini_clone.application.messaging.question_files import PostedFiles, QuestionFiles
from gemini_clone.application.messaging.reading import GetMessage, ListMessages, WaitForReply
from gemini_clone.application.messaging.requeue import RequeueStaleReplies
from gemini_clone.application.messaging.send_message import SendMessage
from gemini_clone.application.messaging.stop_reply import StopReply
from gemini_clone.application.messaging.streaming import StreamReply
from gemini_clone.application.messaging.summaries import SummariseHistory
from gemini_clone.application.metering.report_usage import ReportUsage
from gemini_clone.application.sharing.links import (
    ContinueShare,
    ListShares,
    ReadShare,
    RevokeShare,
    ShareChatroom,
)
from gemini_clone.domain.file_types import sniff_media_type
from gemini_clone.entrypoints.adapter_choices import (
    ConfigurationError,
    derived_key,
    jwt_secret,
    make_blob_store,
    make_broker,
    make_cache,
    make_circuit_breaker,
    make_engine,
    make_image_check,
    make_message_posting,
    make_otp_sender,
    make_payment_gateway,
    make_redis,
    make_reply_jobs,
    make_reply_pieces,
    make_reply_stops,
    make_reply_store,
    make_sandbox,
    make_throttle,
)
from gemini_clone.entrypoints.core_settings import (
    make_model_access,
    make_plans,
    make_reply_settings,
    make_storage_plans,
)
from gemini_clone.entrypoints.long_chats import (
    make_history_summaries,
    make_long_chats,
    make_summary_jobs,
    make_summary_settings,
)
from gemini_clone.entrypoints.metrics import PrometheusCallMeter
from gemini_clone.entrypoints.model_providers import make_language_model
from gemini_clone.entrypoints.settings import (
    Settings,
    make_fallback_chains,
    make_model_catalogue,
)
from gemini_clone.ports.repositories import UnitOfWorkFactory

logger = logging.getLogger("gemini_clone.container")


OPEN_DOOR_RISKS = {
    "OTP_DELIVERY=response": "login codes are in the API's answers; anyone can log in as "
    "any number (set OTP_DELIVERY=log or plug in a sender for real users)",
    "PAYMENTS=sandbox": "the sandbox checkout grants Pro without payment (configure "
    "Stripe for real users)",
}


class Container(containers.DeclarativeContainer):
    __self__ = providers.Self()
    settings = providers.Dependency(instance_of=Settings)

    clock = providers.Singleton(SystemClock)
    ids = providers.Singleton(UuidGenerator)
    secret = providers.Singleton(jwt_secret, settings)
    keyed_hasher = providers.Singleton(
        lambda secret: KeyedHasher(derived_key(secret, "codes-and-refresh-tokens")), secret
    )

    engine = providers.Singleton(make_engine, settings)
    uow = providers.Singleton(sql_unit_of_work_factory, engine)
    reply_statistics = providers.Singleton(SqlReplyStatistics, engine)
    message_search = providers.Singleton(
        SqlMessageSearch, engine, settings.provided.search_language
    )
    redis = providers.Singleton(make_redis, settings)
    cache = providers.Singleton(make_cache, redis)
    throttle = providers.Singleton(make_throttle, redis)
    broker = providers.Singleton(make_broker, settings)
    reply_jobs = providers.Singleton(make_reply_jobs, redis, broker.provider)
    model_catalogue = providers.Singleton(make_model_catalogue, settings)
    language_model = providers.Singleton(make_language_model, settings, model_catalogue)
    reply_pieces = providers.Singleton(make_reply_pieces, redis)
    reply_stops = providers.Singleton(make_reply_stops, redis)
    sandbox_gateway = providers.Singleton(make_sandbox, settings, secret.provider, clock)
    payment_gateway = providers.Singleton(make_payment_gateway, settings, sandbox_gateway)
    otp_sender = providers.Singleton(make_otp_sender, settings)
    blob_store = providers.Singleton(make_blob_store, settings)
    image_check = providers.Singleton(make_image_check, settings)
    mobile_numbers = providers.Singleton(PhonenumbersMobileNumbers)
    password_hasher = providers.Singleton(Argon2PasswordHasher)
    token_service = providers.Singleton(
        lambda secret, clock, ttl: JwtTokenService(secret, clock, ttl=timedelta(seconds=ttl)),
        secret,
        clock,
        settings.provided.access_token_ttl_seconds,
    )
    plans = providers.Singleton(make_plans, settings)
    storage_plans = providers.Singleton(make_storage_plans, settings)
    # PLACEHOLDER until the `blobstore` branch merges: its local-folder and S3 adapters
    # (chosen by their settings) replace this one-process store.
    blobs = blob_store
    model_access = providers.Singleton(make_model_access, settings, model_catalogue)
    call_meter = providers.Singleton(PrometheusCallMeter, model_catalogue.provided.ids)
    reply_settings = providers.Singleton(make_reply_settings, settings)

    sessions = providers.Singleton(
        lambda tokens, hasher, ids, days: SessionIssuer(
            tokens, hasher, ids, refresh_ttl=timedelta(days=days)
        ),
        token_service,
        keyed_hasher,
        ids,
        settings.provided.refresh_token_ttl_days,
    )
    otp_issuer = providers.Singleton(
        lambda uow, numbers, sender, throttle, hasher, clock, ids, delivery: OtpIssuer(
            uow, numbers, sender, throttle, hasher, clock, ids,
            reveal_in_response=delivery == "response",
        ),
        uow, mobile_numbers, otp_sender, throttle, keyed_hasher, clock, ids,
        settings.provided.otp_delivery_in_use,
    )  # fmt: skip
    otp_checker = providers.Singleton(OtpChecker, mobile_numbers, keyed_hasher, clock)

    sign_up = providers.Singleton(SignUp, uow, mobile_numbers, password_hasher, clock, ids)
    send_otp = providers.Singleton(SendOtp, otp_issuer)
    forgot_password = providers.Singleton(ForgotPassword, otp_issuer)
    verify_otp = providers.Singleton(VerifyOtp, uow, otp_checker, sessions, clock)
    password_login = providers.Singleton(
        PasswordLogin, uow, mobile_numbers, password_hasher, sessions, clock
    )
    refresh_session = providers.Singleton(RefreshSession, uow, sessions, clock)
    logout = providers.Singleton(Logout, uow, sessions, clock)
    reset_password = providers.Singleton(ResetPassword, uow, otp_checker, password_hasher, clock)
    change_password = providers.Singleton(ChangePassword, uow, password_hasher)
    get_me = providers.Singleton(GetMe, uow, plans, clock)
    delete_account = providers.Singleton(
        DeleteAccount,
        uow,
        mobile_numbers,
        payment_gateway,
        cache,
        throttle,
        reply_pieces,
        reply_stops,
        clock,
        blob_store,
    )

    create_chatroom = providers.Singleton(CreateChatroom, uow, cache, clock, ids, model_access)
    list_chatrooms = providers.Singleton(
        ListChatrooms, uow, cache, settings.provided.chatroom_cache_ttl
    )
    history_summaries = providers.Singleton(make_history_summaries, engine)
    get_chatroom = providers.Singleton(GetChatroom, uow, history_summaries)
    search_chats = providers.Singleton(SearchChats, message_search)
    update_chatroom = providers.Singleton(UpdateChatroom, uow, cache, clock, model_access)
    list_models = providers.Singleton(ListModels, uow, model_access)
    title_chatroom = providers.Singleton(
        TitleChatroom,
        uow,
        language_model,
        cache,
        clock,
        settings.provided.title_model,
        models=model_access,
        meter=call_meter,
    )
    delete_chatroom = providers.Singleton(DeleteChatroom, uow, cache, clock, reply_pieces, blobs)
    upload_attachment = providers.Singleton(
        UploadAttachment,
        uow,
        blobs,
        storage_plans,
        providers.Object(sniff_media_type),
        clock,
        ids,
        max_bytes=settings.provided.attachment_max_bytes,
        images=image_check,
    )
    get_attachment = providers.Singleton(GetAttachment, uow, blobs)
    delete_attachment = providers.Singleton(DeleteAttachment, uow, blobs)
    sweep_attachments = providers.Singleton(SweepAttachments, uow, blobs, clock)

    message_posting = providers.Singleton(make_message_posting, engine)
    send_message = providers.Singleton(
        SendMessage,
        message_posting, reply_jobs, cache, plans, clock, ids,
        files=providers.Singleton(PostedFiles, uow, model_access),
    )  # fmt: skip
    list_messages = providers.Singleton(ListMessages, uow)
    get_message = providers.Singleton(GetMessage, uow)
    wait_for_reply = providers.Singleton(WaitForReply, get_message, clock)
    reply_store = providers.Singleton(make_reply_store, engine)
    summary_jobs = providers.Singleton(make_summary_jobs, redis, broker.provider)
    long_chats = providers.Singleton(make_long_chats, settings, summary_jobs.provider)
    circuit_breaker = providers.Singleton(make_circuit_breaker, settings, redis)
    model_fallback = providers.Singleton(
        ModelFallback,
        language_model,
        clock,
        chains=providers.Singleton(make_fallback_chains, settings, model_catalogue),
        circuits=circuit_breaker,
        reads=model_access.provided.inputs_of,
    )
    generate_reply = providers.Singleton(
        GenerateReply,
        reply_store,
        language_model,
        clock,
        reply_settings,
        model_access,
        titles=title_chatroom,
        pieces=reply_pieces,
        stops=reply_stops,
        meter=call_meter,
        long_chats=long_chats,
        fallback=model_fallback,
        files=providers.Singleton(QuestionFiles, uow, blobs, model_access),
    )
    summarise_history = providers.Singleton(
        SummariseHistory,
        history_summaries,
        language_model,
        clock,
        providers.Singleton(make_summary_settings, settings),
        models=model_access,
        meter=call_meter,
    )
    # One per process: every stream's keep-alive look joins the same read window.
    keep_alive_reads = providers.Singleton(BatchedGetMessage, uow)
    stream_reply = providers.Singleton(StreamReply, get_message, keep_alive_reads, reply_pieces)
    stop_reply = providers.Singleton(
        StopReply, get_message, reply_store, reply_stops, reply_pieces, clock
    )
    regenerate_reply = providers.Singleton(
        RegenerateReply,
        uow, message_posting, stop_reply, reply_pieces, reply_jobs, cache, plans, clock, ids,
        models=model_access,
    )  # fmt: skip
    edit_question = providers.Singleton(
        EditQuestion,
        uow, message_posting, stop_reply, reply_pieces, reply_jobs, cache, plans, clock, ids,
    )  # fmt: skip
    switch_path = providers.Singleton(SwitchPath, uow)
    fork_chatroom = providers.Singleton(ForkChatroom, uow, cache, clock, ids)
    share_chatroom = providers.Singleton(ShareChatroom, uow, clock)
    list_shares = providers.Singleton(ListShares, uow)
    revoke_share = providers.Singleton(RevokeShare, uow)
    read_share = providers.Singleton(ReadShare, uow)
    continue_share = providers.Singleton(ContinueShare, uow, cache, clock, ids)
    export_chatroom = providers.Singleton(
        ExportChatroom,
        uow,
        clock,
        providers.Object(
            {ExportFormat.JSON: JsonRoomWriter(), ExportFormat.MARKDOWN: MarkdownRoomWriter()}
        ),
    )
    export_account = providers.Singleton(
        ExportAccount, uow, clock, providers.Singleton(ZipAccountArchive), blob_store
    )
    import_chatrooms = providers.Singleton(
        ImportChatrooms,
        uow,
        cache,
        clock,
        ids,
        providers.Singleton(ArchiveFormats),
        model_access,
        max_bytes=settings.provided.import_max_bytes,
    )
    requeue_stale_replies = providers.Singleton(
        lambda uow, jobs, clock, seconds: RequeueStaleReplies(
            uow, jobs, clock, stale_after=timedelta(seconds=seconds)
        ),
        uow,
        reply_jobs,
        clock,
        settings.provided.stale_reply_seconds,
    )

    start_checkout = providers.Singleton(StartCheckout, uow, payment_gateway, ids)
    apply_payment_event = providers.Singleton(ApplyPaymentEvent, uow, clock)
    get_subscription_status = providers.Singleton(GetSubscriptionStatus, uow, plans, clock)
    open_billing_portal = providers.Singleton(OpenBillingPortal, uow, payment_gateway)
    set_pro_by_support = providers.Singleton(
        SetProBySupport, uow, apply_payment_event, mobile_numbers, clock, ids
    )

    list_users = providers.Singleton(ListUsers, uow)
    show_user = providers.Singleton(ShowUser, uow, mobile_numbers, plans, clock)
    show_chatroom = providers.Singleton(ShowChatroom, uow, model_access)
    usage_report = providers.Singleton(UsageReport, uow, clock)
    report_usage = providers.Singleton(ReportUsage, uow, clock)


def build_container(settings: Settings) -> Container:
    warn_of_open_doors(settings)
    return Container(settings=settings)


def warn_of_open_doors(settings: Settings) -> None:
    """Outside embedded mode, name each open door chosen: every process's log says so."""
    for door in settings.open_doors:
        logger.warning("%s outside embedded mode: %s", door, OPEN_DOOR_RISKS[door])


__all__ = ["ConfigurationError", "Container", "UnitOfWorkFactory", "build_container"]
