"""Argon2 password hashes, `phonenumbers` mobile numbers and the provider-free OTP senders."""

from __future__ import annotations

import logging

import pytest

from gemini_clone.adapters.memory.security import InMemoryOtpSender
from gemini_clone.adapters.security import (
    Argon2PasswordHasher,
    LoggingOtpSender,
    NullOtpSender,
    PhonenumbersMobileNumbers,
)
from gemini_clone.domain.errors import InvalidInput
from gemini_clone.domain.users import OtpPurpose


@pytest.fixture
def hasher() -> Argon2PasswordHasher:
    return Argon2PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)


def test_a_password_hash_is_argon2id_and_salted(hasher: Argon2PasswordHasher) -> None:
    first, second = hasher.hash("correct horse"), hasher.hash("correct horse")

    assert first.startswith("$argon2id$")
    assert first != second
    assert "correct horse" not in first


def test_the_default_parameters_are_rfc_9106_low_memory() -> None:
    assert "$m=65536,t=3,p=4$" in Argon2PasswordHasher().hash("correct horse")


def test_the_right_password_verifies(hasher: Argon2PasswordHasher) -> None:
    assert hasher.verify(hasher.hash("correct horse"), "correct horse")


@pytest.mark.parametrize("attempt", ["correct horsE", "correct horse ", "", "battery staple"])
def test_a_wrong_password_does_not_verify(hasher: Argon2PasswordHasher, attempt: str) -> None:
    assert not hasher.verify(hasher.hash("correct horse"), attempt)


@pytest.mark.parametrize(
    "password_hash",
    ["", "not a hash", "fake$" + "0" * 64, "$argon2id$v=19$m=65536,t=3,p=4$broken"],
)
def test_an_unreadable_hash_does_not_verify_and_does_not_raise(
    hasher: Argon2PasswordHasher, password_hash: str
) -> None:
    assert not hasher.verify(password_hash, "correct horse")


def test_a_hash_made_with_other_parameters_still_verifies(hasher: Argon2PasswordHasher) -> None:
    older = Argon2PasswordHasher(time_cost=2, memory_cost=16 * 1024, parallelism=2)

    assert hasher.verify(older.hash("correct horse"), "correct horse")


@pytest.mark.parametrize(
    "raw",
    [
        "+919876543210",
        "+91 98765-43210",
        "+91 98765 43210",
        "+91 (98765) 43210",
        "+91.98765.43210",
        "  +919876543210  ",
    ],
)
def test_one_indian_mobile_number_in_any_layout_is_one_e164_number(raw: str) -> None:
    assert PhonenumbersMobileNumbers().normalize(raw) == "+919876543210"


@pytest.mark.parametrize(
    ("raw", "e164"),
    [("+1 415 555 2671", "+14155552671"), ("+44 7911 123456", "+447911123456")],
)
def test_numbers_of_other_countries_are_normalised(raw: str, e164: str) -> None:
    assert PhonenumbersMobileNumbers().normalize(raw) == e164


def test_a_default_region_reads_national_numbers() -> None:
    assert PhonenumbersMobileNumbers(default_region="IN").normalize("98765 43210") == (
        "+919876543210"
    )


@pytest.mark.parametrize(
    "raw",
    [
        "98765 43210",  # national, and no default region
        "",
        "+",
        "abc",
        "+91 98765 4321",  # a digit short for India
        "+999 1234567",  # no such country code
        "+919876543210xyz",
        "+1-800-FLOWERS",
        "tel:+919876543210",
        "+91 98765 43210 ext. 123",
        "+919876543210;ext=5",
        "+91 98765 43210 #5",
        "+91 98765 43210" + " " * 18,  # 33 characters
        "+9" + "1" * 40,
    ],
)
def test_anything_but_a_valid_mobile_number_is_refused(raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        PhonenumbersMobileNumbers().normalize(raw)

    assert caught.value.code == "invalid_mobile_number"
    assert [error.field for error in caught.value.errors] == ["mobile_number"]


async def test_the_log_sender_logs_the_code_on_the_delivery_logger_with_the_number_masked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    await LoggingOtpSender().send("+919876543210", "482913", OtpPurpose.LOGIN)

    delivery = [r for r in caplog.records if r.name == "gemini_clone.otp_delivery"]
    assert [r.levelno for r in delivery] == [logging.INFO]
    assert "482913" in delivery[0].getMessage()
    assert "+91******3210" in delivery[0].getMessage()
    assert "login" in delivery[0].getMessage()


async def test_the_log_sender_records_the_sending_without_the_code_elsewhere(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    await LoggingOtpSender().send("+919876543210", "482913", OtpPurpose.PASSWORD_RESET)

    others = [r for r in caplog.records if r.name != "gemini_clone.otp_delivery"]
    assert len(others) == 1
    assert "+91******3210" in others[0].getMessage()
    assert "482913" not in others[0].getMessage()


async def test_the_log_sender_never_logs_the_whole_number(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    await LoggingOtpSender().send("+919876543210", "482913", OtpPurpose.LOGIN)

    assert caplog.records
    for record in caplog.records:
        assert "9876543210" not in record.getMessage()


async def test_the_log_sender_masks_a_short_number_whole(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    await LoggingOtpSender().send("+6834002", "111111", OtpPurpose.LOGIN)

    assert caplog.records
    for record in caplog.records:
        assert "********" in record.getMessage()
        assert "4002" not in record.getMessage()


async def test_the_null_sender_sends_and_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    await NullOtpSender().send("+919876543210", "482913", OtpPurpose.LOGIN)

    assert caplog.records == []


async def test_the_in_memory_sender_records_codes_and_gives_the_last_one_per_number() -> None:
    sender = InMemoryOtpSender()

    await sender.send("+919876543210", "111111", OtpPurpose.LOGIN)
    await sender.send("+14155552671", "222222", OtpPurpose.LOGIN)
    await sender.send("+919876543210", "333333", OtpPurpose.PASSWORD_RESET)

    assert sender.sent == [
        ("+919876543210", "111111", OtpPurpose.LOGIN),
        ("+14155552671", "222222", OtpPurpose.LOGIN),
        ("+919876543210", "333333", OtpPurpose.PASSWORD_RESET),
    ]
    assert sender.last_code("+919876543210") == "333333"
    with pytest.raises(LookupError):
        sender.last_code("+447911123456")
