"""The drivers of the core: the HTTP API, the reply worker and the CLI, wired by one container."""
