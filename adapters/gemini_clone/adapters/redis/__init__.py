"""Redis adapters: the shared cache and throttles of the production mode."""

from gemini_clone.adapters.redis.cache import DEFAULT_KEY_PREFIX, RedisCache, RedisThrottle
from gemini_clone.adapters.redis.client import create_redis_client
from gemini_clone.adapters.redis.near_cache import NearCache

__all__ = ["DEFAULT_KEY_PREFIX", "NearCache", "RedisCache", "RedisThrottle", "create_redis_client"]
