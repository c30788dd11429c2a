"""Reply jobs on taskiq: the in-memory broker in the embedded mode, Redis streams in production."""

from gemini_clone.adapters.taskiq.jobs import (
    CONSUMER_GROUP,
    REPLY_STREAM,
    REPLY_TASK_NAME,
    TaskiqReplyJobs,
    create_broker,
)
from gemini_clone.adapters.taskiq.stream import ReplyStreamBroker, stop_if_cancelled

__all__ = [
    "CONSUMER_GROUP",
    "REPLY_STREAM",
    "REPLY_TASK_NAME",
    "ReplyStreamBroker",
    "TaskiqReplyJobs",
    "create_broker",
    "stop_if_cancelled",
]
