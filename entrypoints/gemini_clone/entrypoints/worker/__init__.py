"""The reply worker: taskiq jobs that run `GenerateReply`, and the sweeper."""
