"""Where reply jobs live, shared by the producer (API) and the worker. Importing this
module loads no third-party library."""

REPLY_TASK_NAME = "gemini_clone.generate_reply"
SUMMARY_TASK_NAME = "gemini_clone.summarise_history"
"""Long chats' summary jobs travel on the reply stream too: the same workers run them."""
REPLY_STREAM = "gemini_clone:v1:replies"
CONSUMER_GROUP = "gemini_clone_workers"
STREAM_MAXLEN = 1_000_000
"""The stream is trimmed (approximately) to this many entries; acknowledged entries are
the ones that go."""
