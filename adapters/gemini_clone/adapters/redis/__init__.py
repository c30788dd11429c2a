"""Redis adapters: the shared cache and throttles, and replies' live pieces and stop
requests, of the production mode."""

from gemini_clone.adapters.redis.cache import DEFAULT_KEY_PREFIX, RedisCache, RedisThrottle
from gemini_clone.adapters.redis.circuits import RedisCircuitBreaker
from gemini_clone.adapters.redis.client import create_redis_client
from gemini_clone.adapters.redis.near_cache import NearCache
from gemini_clone.adapters.redis.reply_pieces import RedisReplyPieces
from gemini_clone.adapters.redis.reply_stops import RedisReplyStops

__all__ = [
    "DEFAULT_KEY_PREFIX",
    "NearCache",
    "RedisCache",
    "RedisCircuitBreaker",
    "RedisReplyPieces",
    "RedisReplyStops",
    "RedisThrottle",
    "create_redis_client",
]
