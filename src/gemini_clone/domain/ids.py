"""Typed identifiers: every id is a UUID, typed by what it names."""

from typing import NewType
from uuid import UUID

UserId = NewType("UserId", UUID)
ChatroomId = NewType("ChatroomId", UUID)
MessageId = NewType("MessageId", UUID)
OtpChallengeId = NewType("OtpChallengeId", UUID)
RefreshTokenId = NewType("RefreshTokenId", UUID)
TokenFamilyId = NewType("TokenFamilyId", UUID)
AttachmentId = NewType("AttachmentId", UUID)
