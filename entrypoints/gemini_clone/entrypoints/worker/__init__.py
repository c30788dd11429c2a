"""The reply worker process: it runs the jobs of `entrypoints/tasks.py` from the Redis queue."""
