"""Security adapters: argon2id password hashes, mobile numbers by `phonenumbers`, and the OTP
senders that need no provider (a log line, or nothing)."""

from gemini_clone.adapters.security.mobile_numbers import PhonenumbersMobileNumbers
from gemini_clone.adapters.security.otp import LoggingOtpSender, NullOtpSender
from gemini_clone.adapters.security.passwords import Argon2PasswordHasher

__all__ = [
    "Argon2PasswordHasher",
    "LoggingOtpSender",
    "NullOtpSender",
    "PhonenumbersMobileNumbers",
]
