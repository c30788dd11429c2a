"""Reply jobs on taskiq: the in-memory broker in the embedded mode, Redis streams in production."""

from gemini_clone.adapters.taskiq.jobs import (
    REPLY_TASK_NAME,
    TaskiqReplyJobs,
    create_broker,
)

__all__ = ["REPLY_TASK_NAME", "TaskiqReplyJobs", "create_broker"]
