"""`MobileNumbers` on Google's libphonenumber (the `phonenumbers` port)."""

from __future__ import annotations

from typing import Final

import phonenumbers

from gemini_clone.domain.errors import FieldError, InvalidInput
from gemini_clone.ports.otp import MobileNumbers

MAX_INPUT_LENGTH: Final = 32


class PhonenumbersMobileNumbers(MobileNumbers):
    """Mobile numbers, checked against libphonenumber's metadata and written in E.164.

    - `+91 98765-43210`, `+91 (98765) 43210` and `+919876543210` are one number,
      `+919876543210`.
    - Without a `default_region` the number must be international (start with `+`); with one
      (e.g. "IN"), national numbers are read as that region's.
    - Refused: input over 32 characters, letters (libphonenumber would read `1-800-FLOWERS` or
      `tel:` and `ext.`), extensions, and numbers that are not valid for their region.
    """

    def __init__(self, default_region: str | None = None) -> None:
        self._default_region = default_region

    def normalize(self, raw: str) -> str:
        if len(raw) > MAX_INPUT_LENGTH or any(character.isalpha() for character in raw):
            raise _invalid_mobile_number()
        try:
            number = phonenumbers.parse(raw, self._default_region)
        except phonenumbers.NumberParseException:
            raise _invalid_mobile_number() from None
        if number.extension or not phonenumbers.is_valid_number(number):
            raise _invalid_mobile_number()
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _invalid_mobile_number() -> InvalidInput:
    message = "Enter a valid mobile number in international format, e.g. +919876543210."
    return InvalidInput(
        message, code="invalid_mobile_number", errors=(FieldError("mobile_number", message),)
    )
