"""The public face of the `gemini_clone` package: import from here, not from private modules.

Entities, errors, ports and use cases of the core. Adapters live in
`gemini_clone.adapters.<technology>` and are composed in `gemini_clone.entrypoints.container`.
"""

from gemini_clone.application.admin.list_users import ListUsers, ListUsersInput, UserSummary
from gemini_clone.application.admin.show_chatroom import ChatroomSettings, ShowChatroom
from gemini_clone.application.admin.show_user import ShowUser, UserDetail
from gemini_clone.application.admin.usage_report import DailyUsageReport, UsageReport, UserUsage
from gemini_clone.application.attachments.manage import (
    AttachmentContent,
    DeleteAttachment,
    GetAttachment,
)
from gemini_clone.application.attachments.sweep import SweepAttachments, SweptAttachments
from gemini_clone.application.attachments.upload import UploadAttachment, UploadAttachmentInput
from gemini_clone.application.auth.delete_account import DeleteAccount, DeleteAccountInput
from gemini_clone.application.auth.export_account import AccountExport, ExportAccount
from gemini_clone.application.auth.get_me import GetMe, Profile
from gemini_clone.application.auth.login import PasswordLogin, PasswordLoginInput
from gemini_clone.application.auth.logout import Logout, LogoutInput
from gemini_clone.application.auth.otp_codes import OtpChecker, OtpIssuer, OtpSent, SendOtpInput
from gemini_clone.application.auth.passwords import (
    ChangePassword,
    ChangePasswordInput,
    ResetPassword,
    ResetPasswordInput,
)
from gemini_clone.application.auth.refresh import RefreshInput, RefreshSession
from gemini_clone.application.auth.send_otp import ForgotPassword, SendOtp
from gemini_clone.application.auth.sessions import SessionIssuer, TokenPair
from gemini_clone.application.auth.signup import SignUp, SignUpInput
from gemini_clone.application.auth.verify_otp import VerifyOtp, VerifyOtpInput
from gemini_clone.application.billing.apply_payment_event import ApplyPaymentEvent, EventOutcome
from gemini_clone.application.billing.checkout import StartCheckout, StartCheckoutInput
from gemini_clone.application.billing.portal import OpenBillingPortal, OpenBillingPortalInput
from gemini_clone.application.billing.status import GetSubscriptionStatus, SubscriptionView
from gemini_clone.application.billing.support import SetProBySupport
from gemini_clone.application.chatrooms.create import CreateChatroom, CreateChatroomInput
from gemini_clone.application.chatrooms.delete import DeleteChatroom
from gemini_clone.application.chatrooms.get import ChatroomDetail, GetChatroom
from gemini_clone.application.chatrooms.listing import ListChatrooms, ListChatroomsInput
from gemini_clone.application.chatrooms.models import ListModels, ModelList
from gemini_clone.application.chatrooms.pages import ChatroomPage
from gemini_clone.application.chatrooms.search import SearchChats, SearchChatsInput, SearchPage
from gemini_clone.application.chatrooms.titles import TitleChatroom, TitleInput
from gemini_clone.application.chatrooms.transfer import (
    ExportChatroom,
    ExportedFile,
    ExportFormat,
    ExportInput,
    ImportChatrooms,
    ImportInput,
)
from gemini_clone.application.chatrooms.update import (
    Unchanged,
    UpdateChatroom,
    UpdateChatroomInput,
)
from gemini_clone.application.hashing import KeyedHasher
from gemini_clone.application.messaging.batched_reading import BatchedGetMessage
from gemini_clone.application.messaging.branches import ForkChatroom, PathInput, SwitchPath
from gemini_clone.application.messaging.fallback import FallbackRun, ModelFallback
from gemini_clone.application.messaging.generate_reply import (
    GenerateReply,
    ReplyOutcome,
    ReplySettings,
)
from gemini_clone.application.messaging.model_routing import RoutedLanguageModel
from gemini_clone.application.messaging.new_version import (
    EditQuestion,
    EditQuestionInput,
    RegenerateInput,
    RegenerateReply,
)
from gemini_clone.application.messaging.paid_exchange import StoredExchange
from gemini_clone.application.messaging.question_files import PostedFiles, QuestionFiles
from gemini_clone.application.messaging.reading import (
    GetMessage,
    ListMessages,
    ListMessagesInput,
    MessagePage,
    WaitForReply,
)
from gemini_clone.application.messaging.requeue import RequeueStaleReplies
from gemini_clone.application.messaging.send_message import (
    SendMessage,
    SendMessageInput,
)
from gemini_clone.application.messaging.stop_reply import StopOutcome, StoppedReply, StopReply
from gemini_clone.application.messaging.streaming import ReplyEvent, ReplyEventKind, StreamReply
from gemini_clone.application.messaging.summaries import (
    LongChats,
    SummariseHistory,
    SummarySettings,
)
from gemini_clone.application.metering.report_usage import (
    ReportUsage,
    ReportUsageInput,
    UsageReportOutput,
)
from gemini_clone.application.sharing.links import (
    ContinueShare,
    ListShares,
    ReadShare,
    RevokeShare,
    ShareChatroom,
    ShareInput,
)
from gemini_clone.domain.archives import (
    ArchivedMessage,
    ArchivedRoom,
    PlantedRoom,
    RoomSnapshot,
)
from gemini_clone.domain.attachments import Attachment
from gemini_clone.domain.chatrooms import Chatroom, TitleSource
from gemini_clone.domain.circuits import Circuit, CircuitPolicy, CircuitState
from gemini_clone.domain.errors import (
    AuthenticationFailed,
    Conflict,
    FieldError,
    Forbidden,
    GeminiCloneError,
    InvalidInput,
    NotFound,
    PaymentError,
    QuotaExceeded,
    TooLarge,
    TooManyRequests,
    Unavailable,
    UnsupportedMediaType,
)
from gemini_clone.domain.fallbacks import FallbackChains, FallbackError
from gemini_clone.domain.file_types import FileKind, FileType, sniff_file_type
from gemini_clone.domain.ids import AttachmentId, ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import Message, MessageError, MessageStatus, Role, TokenUsage
from gemini_clone.domain.metering import CallOutcome, ModelCall, UsageTotal
from gemini_clone.domain.model_access import ModelAccess, ModelOption
from gemini_clone.domain.model_catalogue import CatalogueModel, ModelCatalogue
from gemini_clone.domain.quota import DailyUsage, Plans
from gemini_clone.domain.search import SearchHit, SearchPosition, SearchQuery, parse_search_query
from gemini_clone.domain.shares import SharedChat, SharedTurn
from gemini_clone.domain.storage import StoragePlans
from gemini_clone.domain.subscriptions import PaymentEvent, Subscription, Tier
from gemini_clone.domain.summaries import HistorySummary
from gemini_clone.domain.tree import Versions
from gemini_clone.domain.users import OtpChallenge, OtpPurpose, RefreshToken, User
from gemini_clone.ports.archives import AccountArchiveWriter, ArchiveReader, ArchiveWriter
from gemini_clone.ports.attachments import AttachmentRepository, ProviderFile, ProviderFileMemory
from gemini_clone.ports.blobs import BlobInfo, BlobStore, BlobTooLarge, StoredBlob
from gemini_clone.ports.cache import Cache, Throttle, ThrottleDecision
from gemini_clone.ports.circuits import CircuitBreaker
from gemini_clone.ports.clock import Clock, IdGenerator
from gemini_clone.ports.images import ImageCheck, ImageSize
from gemini_clone.ports.jobs import QueueProgress, ReplyJobs
from gemini_clone.ports.language_model import (
    GenerationPiece,
    GenerationRequest,
    GenerationResult,
    LanguageModel,
    ModelConfigurationError,
    ModelError,
    ModelUnavailable,
    Purpose,
    Turn,
    TurnFile,
)
from gemini_clone.ports.metering import CallMeter, UsageLedger
from gemini_clone.ports.otp import MobileNumbers, OtpSender
from gemini_clone.ports.payments import CheckoutRequest, CheckoutSession, PaymentGateway
from gemini_clone.ports.posting import MessagePosting, QuotaTake
from gemini_clone.ports.replies import ClaimedReply, QuotaUnit, ReplyResult, ReplyStore
from gemini_clone.ports.reply_pieces import Piece, PieceEvent, PieceKind, ReplyPieces
from gemini_clone.ports.reply_stops import ReplyStops
from gemini_clone.ports.repositories import (
    ChatroomRepository,
    MessageRepository,
    OtpRepository,
    PaymentEventRepository,
    RefreshTokenRepository,
    SharedLinkRepository,
    StaleReply,
    SubscriptionRepository,
    UnitOfWork,
    UnitOfWorkFactory,
    UsageRepository,
    UserRepository,
)
from gemini_clone.ports.search import MessageSearch
from gemini_clone.ports.statistics import ReplyStatistics
from gemini_clone.ports.summaries import HistorySummaries, SummaryJobs
from gemini_clone.ports.tokens import AccessToken, PasswordHasher, TokenService

# One line holds several names: the list is long, and sorted (test_public_api).
# fmt: off
__all__ = [
    "AccessToken", "AccountArchiveWriter", "AccountExport", "ApplyPaymentEvent", "ArchiveReader",
    "ArchiveWriter", "ArchivedMessage", "ArchivedRoom", "Attachment", "AttachmentContent",
    "AttachmentId", "AttachmentRepository", "AuthenticationFailed", "BatchedGetMessage", "BlobInfo",
    "BlobStore", "BlobTooLarge", "Cache", "CallMeter", "CallOutcome", "CatalogueModel",
    "ChangePassword", "ChangePasswordInput", "Chatroom", "ChatroomDetail", "ChatroomId",
    "ChatroomPage", "ChatroomRepository", "ChatroomSettings", "CheckoutRequest", "CheckoutSession",
    "Circuit", "CircuitBreaker", "CircuitPolicy", "CircuitState", "ClaimedReply", "Clock",
    "Conflict", "ContinueShare", "CreateChatroom", "CreateChatroomInput", "DailyUsage",
    "DailyUsageReport", "DeleteAccount", "DeleteAccountInput", "DeleteAttachment", "DeleteChatroom",
    "EditQuestion", "EditQuestionInput", "EventOutcome", "ExportAccount", "ExportChatroom",
    "ExportFormat", "ExportInput", "ExportedFile", "FallbackChains", "FallbackError", "FallbackRun",
    "FieldError", "FileKind", "FileType", "Forbidden", "ForgotPassword", "ForkChatroom",
    "GeminiCloneError", "GenerateReply", "GenerationPiece", "GenerationRequest", "GenerationResult",
    "GetAttachment", "GetChatroom", "GetMe", "GetMessage", "GetSubscriptionStatus",
    "HistorySummaries", "HistorySummary", "IdGenerator", "ImageCheck", "ImageSize",
    "ImportChatrooms", "ImportInput", "InvalidInput", "KeyedHasher", "LanguageModel",
    "ListChatrooms", "ListChatroomsInput", "ListMessages", "ListMessagesInput", "ListModels",
    "ListShares", "ListUsers", "ListUsersInput", "Logout", "LogoutInput", "LongChats", "Message",
    "MessageError", "MessageId", "MessagePage", "MessagePosting", "MessageRepository",
    "MessageSearch", "MessageStatus", "MobileNumbers", "ModelAccess", "ModelCall", "ModelCatalogue",
    "ModelConfigurationError", "ModelError", "ModelFallback", "ModelList", "ModelOption",
    "ModelUnavailable", "NotFound", "OpenBillingPortal", "OpenBillingPortalInput", "OtpChallenge",
    "OtpChecker", "OtpIssuer", "OtpPurpose", "OtpRepository", "OtpSender", "OtpSent",
    "PasswordHasher", "PasswordLogin", "PasswordLoginInput", "PathInput", "PaymentError",
    "PaymentEvent", "PaymentEventRepository", "PaymentGateway", "Piece", "PieceEvent", "PieceKind",
    "Plans", "PlantedRoom", "PostedFiles", "Profile", "ProviderFile", "ProviderFileMemory",
    "Purpose", "QuestionFiles", "QueueProgress", "QuotaExceeded", "QuotaTake", "QuotaUnit",
    "ReadShare", "RefreshInput", "RefreshSession", "RefreshToken", "RefreshTokenRepository",
    "RegenerateInput", "RegenerateReply", "ReplyEvent", "ReplyEventKind", "ReplyJobs",
    "ReplyOutcome", "ReplyPieces", "ReplyResult", "ReplySettings", "ReplyStatistics", "ReplyStops",
    "ReplyStore", "ReportUsage", "ReportUsageInput", "RequeueStaleReplies", "ResetPassword",
    "ResetPasswordInput", "RevokeShare", "Role", "RoomSnapshot", "RoutedLanguageModel",
    "SearchChats", "SearchChatsInput", "SearchHit", "SearchPage", "SearchPosition", "SearchQuery",
    "SendMessage", "SendMessageInput", "SendOtp", "SendOtpInput", "SessionIssuer",
    "SetProBySupport", "ShareChatroom", "ShareInput", "SharedChat", "SharedLinkRepository",
    "SharedTurn", "ShowChatroom", "ShowUser", "SignUp", "SignUpInput", "StaleReply",
    "StartCheckout", "StartCheckoutInput", "StopOutcome", "StopReply", "StoppedReply",
    "StoragePlans", "StoredBlob", "StoredExchange", "StreamReply", "Subscription",
    "SubscriptionRepository", "SubscriptionView", "SummariseHistory", "SummaryJobs",
    "SummarySettings", "SweepAttachments", "SweptAttachments", "SwitchPath", "Throttle",
    "ThrottleDecision", "Tier", "TitleChatroom", "TitleInput", "TitleSource", "TokenPair",
    "TokenService", "TokenUsage", "TooLarge", "TooManyRequests", "Turn", "TurnFile", "Unavailable",
    "Unchanged", "UnitOfWork", "UnitOfWorkFactory", "UnsupportedMediaType", "UpdateChatroom",
    "UpdateChatroomInput", "UploadAttachment", "UploadAttachmentInput", "UsageLedger",
    "UsageReport", "UsageReportOutput", "UsageRepository", "UsageTotal", "User", "UserDetail",
    "UserId", "UserRepository", "UserSummary", "UserUsage", "VerifyOtp", "VerifyOtpInput",
    "Versions", "WaitForReply", "parse_search_query", "sniff_file_type",
]
# fmt: on
