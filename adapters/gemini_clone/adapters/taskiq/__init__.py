"""Reply jobs on taskiq: the in-memory broker in the embedded mode, Redis streams in production.

- `names`: the stream, consumer group and task name (no third-party import);
- `producer`: `StreamReplyJobs`, which queues jobs on the stream without loading taskiq
  (what an API process needs);
- `jobs`: `create_broker` and `TaskiqReplyJobs` (the in-memory broker, and the worker);
- `stream`: `ReplyStreamBroker`, the worker's stream consumer.

Import from those modules: this package imports nothing, so that a process loads taskiq
only if it runs jobs.
"""
