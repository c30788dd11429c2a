"""Access tokens as JSON Web Tokens (PyJWT, HS256), and the secret that signs them."""

from gemini_clone.adapters.jwt.secret import load_or_create_secret
from gemini_clone.adapters.jwt.tokens import JwtTokenService

__all__ = ["JwtTokenService", "load_or_create_secret"]
