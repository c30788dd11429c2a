"""The HTTP API on Litestar: `create_app(settings)` builds it."""
