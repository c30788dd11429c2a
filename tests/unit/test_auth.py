"""Sign-up, one-time codes, passwords, refresh tokens and the profile."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tests.unit.conftest import ALICE, BOB, PASSWORD, World, WorldFactory

from gemini_clone.application.auth.logout import LogoutInput
from gemini_clone.application.auth.otp_codes import SendOtpInput
from gemini_clone.application.auth.passwords import ChangePasswordInput, ResetPasswordInput
from gemini_clone.application.auth.refresh import RefreshInput
from gemini_clone.application.auth.sessions import TokenPair
from gemini_clone.application.auth.signup import SignUpInput
from gemini_clone.application.auth.verify_otp import VerifyOtpInput
from gemini_clone.domain.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidInput,
    NotFound,
    TooManyRequests,
)
from gemini_clone.domain.ids import UserId
from gemini_clone.domain.subscriptions import Tier
from gemini_clone.domain.users import OtpPurpose, User


def wrong(code: str) -> str:
    """A six-digit code that is not `code`."""
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def verify(world: World, code: str, number: str = ALICE) -> TokenPair:
    return await world.verify_otp.execute(VerifyOtpInput(mobile_number=number, otp=code))


async def send(world: World, number: str = ALICE) -> str:
    await world.send_otp.execute(SendOtpInput(mobile_number=number))
    return world.otp_sender.last_code(world.numbers.normalize(number))


# Sign-up


async def test_signup_normalises_the_mobile_number_to_e164(world: World) -> None:
    user = await world.signup.execute(SignUpInput(mobile_number="+91 98765-43210"))

    assert user.mobile_number == "+919876543210"
    assert user.created_at == world.clock.now()


async def test_the_same_number_typed_differently_is_one_user(world: World) -> None:
    await world.signup.execute(SignUpInput(mobile_number="+91 98765-43210"))

    with pytest.raises(Conflict) as raised:
        await world.signup.execute(SignUpInput(mobile_number="+919876543210"))

    assert raised.value.code == "user_exists"


async def test_an_invalid_mobile_number_is_refused(world: World) -> None:
    with pytest.raises(InvalidInput) as raised:
        await world.signup.execute(SignUpInput(mobile_number="call me maybe"))

    assert raised.value.code == "invalid_mobile_number"
    assert raised.value.errors[0].field == "mobile_number"


async def test_signup_trims_name_and_email_and_drops_blank_ones(world: World) -> None:
    named = await world.signup.execute(
        SignUpInput(mobile_number=ALICE, name="  Alice ", email=" a@example.com ")
    )
    blank = await world.signup.execute(SignUpInput(mobile_number=BOB, name="   ", email=""))

    assert (named.name, named.email) == ("Alice", "a@example.com")
    assert (blank.name, blank.email) == (None, None)


@pytest.mark.parametrize("length", [8, 128])
async def test_passwords_of_8_to_128_characters_are_accepted(world: World, length: int) -> None:
    user = await world.new_user(password="p" * length)

    assert user.password_hash is not None
    assert user.password_hash != "p" * length
    assert world.passwords.verify(user.password_hash, "p" * length)


@pytest.mark.parametrize("length", [0, 7, 129])
async def test_passwords_shorter_than_8_or_longer_than_128_are_refused(
    world: World, length: int
) -> None:
    with pytest.raises(InvalidInput) as raised:
        await world.new_user(password="p" * length)

    assert raised.value.errors[0].field == "password"
    async with world.uow() as uow:
        assert await uow.users.get_by_mobile(ALICE) is None


async def test_a_user_without_password_has_none(world: World) -> None:
    user = await world.new_user()

    assert user.password_hash is None
    assert not user.has_password


# Sending codes


async def test_send_otp_reveals_the_six_digit_code_when_configured(
    world: World, alice: User
) -> None:
    sent = await world.send_otp.execute(SendOtpInput(mobile_number="+91 98765 43210"))

    assert sent.mobile_number == ALICE
    assert sent.expires_in == 300
    assert sent.otp == world.otp_sender.last_code(ALICE)
    assert sent.otp is not None
    assert len(sent.otp) == 6
    assert sent.otp.isdigit()


async def test_send_otp_does_not_reveal_the_code_unless_configured(
    make_world: WorldFactory,
) -> None:
    world = make_world(reveal_otp=False)
    await world.new_user()

    sent = await world.send_otp.execute(SendOtpInput(mobile_number=ALICE))

    assert sent.otp is None
    assert len(world.otp_sender.sent) == 1
    number, code, purpose = world.otp_sender.sent[0]
    assert (number, purpose.value) == (ALICE, "login")
    assert len(code) == 6


async def test_send_otp_to_an_unknown_number_is_not_found(world: World) -> None:
    with pytest.raises(NotFound) as raised:
        await world.send_otp.execute(SendOtpInput(mobile_number=ALICE))

    assert raised.value.code == "user_not_found"
    assert world.otp_sender.sent == []


async def test_forgot_password_for_an_unknown_number_is_not_found(world: World) -> None:
    with pytest.raises(NotFound) as raised:
        await world.forgot_password.execute(SendOtpInput(mobile_number=ALICE))

    assert raised.value.code == "user_not_found"


async def test_a_second_code_within_30_seconds_is_refused_with_retry_after(
    world: World, alice: User
) -> None:
    await send(world)
    world.clock.advance(timedelta(seconds=10))

    with pytest.raises(TooManyRequests) as raised:
        await send(world)

    assert raised.value.code == "otp_cooldown"
    assert raised.value.retry_after == 20
    assert len(world.otp_sender.sent) == 1


async def test_a_code_can_be_sent_again_after_the_30_second_cooldown(
    world: World, alice: User
) -> None:
    await send(world)
    world.clock.advance(timedelta(seconds=30))

    await send(world)

    assert len(world.otp_sender.sent) == 2


async def test_at_most_five_codes_an_hour_are_sent_to_a_number(world: World, alice: User) -> None:
    for _ in range(5):
        await send(world)
        world.clock.advance(timedelta(seconds=30))

    with pytest.raises(TooManyRequests) as raised:
        await send(world)

    assert raised.value.code == "otp_hourly_limit"
    assert raised.value.retry_after == 3600 - 5 * 30
    assert len(world.otp_sender.sent) == 5


async def test_the_hourly_limit_counts_login_and_reset_codes_together(
    world: World, alice: User
) -> None:
    for index in range(5):
        use_case = world.send_otp if index % 2 else world.forgot_password
        await use_case.execute(SendOtpInput(mobile_number=ALICE))
        world.clock.advance(timedelta(seconds=30))

    with pytest.raises(TooManyRequests) as raised:
        await world.forgot_password.execute(SendOtpInput(mobile_number=ALICE))

    assert raised.value.code == "otp_hourly_limit"


async def test_codes_can_be_sent_again_an_hour_later(world: World, alice: User) -> None:
    for _ in range(5):
        await send(world)
        world.clock.advance(timedelta(seconds=30))
    world.clock.advance(timedelta(hours=1))

    await send(world)

    assert len(world.otp_sender.sent) == 6


async def test_the_send_limits_are_per_number(world: World, alice: User, bob: User) -> None:
    await send(world, ALICE)

    await send(world, BOB)

    assert [number for number, _, _ in world.otp_sender.sent] == [ALICE, BOB]


# Checking codes


async def test_the_right_code_logs_in_with_a_bearer_token_pair(world: World, alice: User) -> None:
    code = await send(world)

    pair = await world.verify_otp.execute(VerifyOtpInput(mobile_number="+91 98765-43210", otp=code))

    assert pair.user.id == alice.id
    assert pair.token_type == "bearer"
    assert pair.expires_in == 15 * 60
    assert world.tokens.verify(pair.access_token) == alice.id
    assert pair.refresh_token
    assert pair.refresh_token != pair.access_token


async def test_a_code_is_valid_just_under_five_minutes(world: World, alice: User) -> None:
    code = await send(world)
    world.clock.advance(timedelta(minutes=5) - timedelta(seconds=1))

    pair = await verify(world, code)

    assert pair.user.id == alice.id


async def test_a_code_expires_after_five_minutes(world: World, alice: User) -> None:
    code = await send(world)
    world.clock.advance(timedelta(minutes=5))

    with pytest.raises(AuthenticationFailed) as raised:
        await verify(world, code)

    assert raised.value.code == "otp_expired"


async def test_a_used_code_cannot_be_used_again(world: World, alice: User) -> None:
    code = await send(world)
    await verify(world, code)

    with pytest.raises(AuthenticationFailed) as raised:
        await verify(world, code)

    assert raised.value.code == "otp_expired"


async def test_verifying_without_any_code_sent_is_refused(world: World, alice: User) -> None:
    with pytest.raises(AuthenticationFailed) as raised:
        await verify(world, "123456")

    assert raised.value.code == "otp_expired"


async def test_verifying_for_an_unknown_number_is_not_found(world: World) -> None:
    with pytest.raises(NotFound) as raised:
        await verify(world, "123456")

    assert raised.value.code == "user_not_found"


async def test_a_wrong_code_is_refused(world: World, alice: User) -> None:
    code = await send(world)

    with pytest.raises(AuthenticationFailed) as raised:
        await verify(world, wrong(code))

    assert raised.value.code == "invalid_otp"


async def test_four_wrong_tries_still_leave_the_right_code_usable(
    world: World, alice: User
) -> None:
    code = await send(world)
    for _ in range(4):
        with pytest.raises(AuthenticationFailed):
            await verify(world, wrong(code))

    pair = await verify(world, code)

    assert pair.user.id == alice.id


async def test_wrong_tries_are_counted_even_though_each_request_fails(
    world: World, alice: User
) -> None:
    code = await send(world)
    for _ in range(3):
        with pytest.raises(AuthenticationFailed):
            await verify(world, wrong(code))

    async with world.uow() as uow:
        challenge = await uow.otps.latest(alice.id, OtpPurpose.LOGIN)
    assert challenge is not None
    assert challenge.attempts == 3


async def test_the_fifth_wrong_try_burns_the_code(world: World, alice: User) -> None:
    code = await send(world)
    for _ in range(4):
        with pytest.raises(AuthenticationFailed):
            await verify(world, wrong(code))

    with pytest.raises(TooManyRequests) as raised:
        await verify(world, wrong(code))

    assert raised.value.code == "otp_attempts_exceeded"


async def test_a_burnt_code_is_refused_even_when_right(world: World, alice: User) -> None:
    code = await send(world)
    for _ in range(4):
        with pytest.raises(AuthenticationFailed):
            await verify(world, wrong(code))
    with pytest.raises(TooManyRequests):
        await verify(world, wrong(code))

    with pytest.raises(TooManyRequests) as raised:
        await verify(world, code)

    assert raised.value.code == "otp_attempts_exceeded"
    assert raised.value.retry_after >= 1


async def test_a_new_code_supersedes_the_previous_one(world: World, alice: User) -> None:
    old = new = await send(world)
    while new == old:  # equal random codes (one chance in a million) would prove nothing
        world.clock.advance(timedelta(seconds=30))
        new = await send(world)

    with pytest.raises(AuthenticationFailed):
        await verify(world, old)
    pair = await verify(world, new)

    assert pair.user.id == alice.id


async def test_a_new_code_after_a_burnt_one_works(world: World, alice: User) -> None:
    code = await send(world)
    for _ in range(5):
        with pytest.raises((AuthenticationFailed, TooManyRequests)):
            await verify(world, wrong(code))
    world.clock.advance(timedelta(seconds=30))

    fresh = await send(world)
    pair = await verify(world, fresh)

    assert pair.user.id == alice.id


async def test_a_login_code_does_not_reset_the_password(world: World, alice: User) -> None:
    code = await send(world)

    with pytest.raises(AuthenticationFailed) as raised:
        await world.reset_password.execute(
            ResetPasswordInput(mobile_number=ALICE, otp=code, new_password=PASSWORD)
        )

    assert raised.value.code == "otp_expired"
    async with world.uow() as uow:
        stored = await uow.users.get(alice.id)
    assert stored is not None
    assert stored.password_hash is None


async def test_a_password_reset_code_does_not_log_in(world: World, alice: User) -> None:
    await world.forgot_password.execute(SendOtpInput(mobile_number=ALICE))
    code = world.otp_sender.last_code(ALICE)

    with pytest.raises(AuthenticationFailed) as raised:
        await verify(world, code)

    assert raised.value.code == "otp_expired"
    assert world.otp_sender.sent[-1][2].value == "password_reset"


# Passwords


async def test_password_login_with_the_right_password(world: World) -> None:
    user = await world.new_user(password=PASSWORD)

    pair = await world.password_pair("+91 98765 43210", PASSWORD)

    assert pair.user.id == user.id
    assert world.tokens.verify(pair.access_token) == user.id


@pytest.mark.parametrize(
    ("number", "password"),
    [(ALICE, "wrong password"), (BOB, PASSWORD)],
    ids=["wrong password", "unknown number"],
)
async def test_password_login_refuses_wrong_passwords_and_unknown_numbers_alike(
    world: World, number: str, password: str
) -> None:
    await world.new_user(password=PASSWORD)

    with pytest.raises(AuthenticationFailed) as raised:
        await world.password_pair(number, password)

    assert raised.value.code == "invalid_credentials"


async def test_password_login_is_refused_for_users_without_a_password(
    world: World, alice: User
) -> None:
    with pytest.raises(AuthenticationFailed) as raised:
        await world.password_pair(ALICE, PASSWORD)

    assert raised.value.code == "invalid_credentials"


async def test_a_user_without_password_may_set_one_directly(world: World, alice: User) -> None:
    await world.change_password.execute(
        ChangePasswordInput(user_id=alice.id, new_password=PASSWORD)
    )

    pair = await world.password_pair(ALICE, PASSWORD)
    assert pair.user.id == alice.id


async def test_changing_a_set_password_requires_the_current_one(world: World) -> None:
    user = await world.new_user(password=PASSWORD)

    with pytest.raises(InvalidInput) as raised:
        await world.change_password.execute(
            ChangePasswordInput(user_id=user.id, new_password="another password")
        )

    assert raised.value.errors[0].field == "current_password"
    await world.password_pair(ALICE, PASSWORD)


async def test_changing_a_password_with_a_wrong_current_one_is_refused(world: World) -> None:
    user = await world.new_user(password=PASSWORD)

    with pytest.raises(AuthenticationFailed):
        await world.change_password.execute(
            ChangePasswordInput(
                user_id=user.id, current_password="not it at all", new_password="another password"
            )
        )

    await world.password_pair(ALICE, PASSWORD)


async def test_changing_the_password_replaces_the_old_one_and_keeps_sessions(
    world: World,
) -> None:
    user = await world.new_user(password=PASSWORD)
    session = await world.password_pair(ALICE, PASSWORD)

    await world.change_password.execute(
        ChangePasswordInput(
            user_id=user.id, current_password=PASSWORD, new_password="another password"
        )
    )

    with pytest.raises(AuthenticationFailed):
        await world.password_pair(ALICE, PASSWORD)
    assert (await world.password_pair(ALICE, "another password")).user.id == user.id
    assert (await world.refresh.execute(RefreshInput(refresh_token=session.refresh_token))).user


async def test_a_new_password_out_of_bounds_is_refused(world: World) -> None:
    user = await world.new_user(password=PASSWORD)

    with pytest.raises(InvalidInput) as raised:
        await world.change_password.execute(
            ChangePasswordInput(user_id=user.id, current_password=PASSWORD, new_password="short")
        )

    assert raised.value.errors[0].field == "new_password"


async def test_reset_password_sets_the_password_and_revokes_every_refresh_token(
    world: World,
) -> None:
    user = await world.new_user(password=PASSWORD)
    phone_session = await world.login()
    laptop_session = await world.password_pair(ALICE, PASSWORD)
    await world.forgot_password.execute(SendOtpInput(mobile_number=ALICE))

    updated = await world.reset_password.execute(
        ResetPasswordInput(
            mobile_number=ALICE,
            otp=world.otp_sender.last_code(ALICE),
            new_password="a brand new password",
        )
    )

    assert updated.id == user.id
    for session in (phone_session, laptop_session):
        with pytest.raises(AuthenticationFailed) as raised:
            await world.refresh.execute(RefreshInput(refresh_token=session.refresh_token))
        assert raised.value.code == "invalid_refresh_token"
    with pytest.raises(AuthenticationFailed):
        await world.password_pair(ALICE, PASSWORD)
    assert (await world.password_pair(ALICE, "a brand new password")).user.id == user.id


async def test_reset_password_refuses_a_short_password_and_keeps_the_code(
    world: World, alice: User
) -> None:
    await world.forgot_password.execute(SendOtpInput(mobile_number=ALICE))
    code = world.otp_sender.last_code(ALICE)

    with pytest.raises(InvalidInput):
        await world.reset_password.execute(
            ResetPasswordInput(mobile_number=ALICE, otp=code, new_password="short")
        )
    await world.reset_password.execute(
        ResetPasswordInput(mobile_number=ALICE, otp=code, new_password=PASSWORD)
    )

    assert (await world.password_pair(ALICE, PASSWORD)).user.id == alice.id


async def test_a_reset_code_works_once(world: World, alice: User) -> None:
    await world.forgot_password.execute(SendOtpInput(mobile_number=ALICE))
    code = world.otp_sender.last_code(ALICE)
    await world.reset_password.execute(
        ResetPasswordInput(mobile_number=ALICE, otp=code, new_password=PASSWORD)
    )

    with pytest.raises(AuthenticationFailed) as raised:
        await world.reset_password.execute(
            ResetPasswordInput(mobile_number=ALICE, otp=code, new_password="another password")
        )

    assert raised.value.code == "otp_expired"


# Refresh tokens and logout


async def test_refresh_rotates_the_token(world: World, alice: User) -> None:
    first = await world.login()

    second = await world.refresh.execute(RefreshInput(refresh_token=first.refresh_token))

    assert second.user.id == alice.id
    assert second.refresh_token != first.refresh_token
    assert world.tokens.verify(second.access_token) == alice.id
    third = await world.refresh.execute(RefreshInput(refresh_token=second.refresh_token))
    assert third.refresh_token not in (first.refresh_token, second.refresh_token)


async def test_a_rotated_refresh_token_stops_working(world: World, alice: User) -> None:
    first = await world.login()
    await world.refresh.execute(RefreshInput(refresh_token=first.refresh_token))

    with pytest.raises(AuthenticationFailed) as raised:
        await world.refresh.execute(RefreshInput(refresh_token=first.refresh_token))

    assert raised.value.code == "invalid_refresh_token"


async def test_reusing_a_rotated_token_revokes_its_whole_family(world: World, alice: User) -> None:
    first = await world.login()
    second = await world.refresh.execute(RefreshInput(refresh_token=first.refresh_token))
    newest = await world.refresh.execute(RefreshInput(refresh_token=second.refresh_token))

    with pytest.raises(AuthenticationFailed):
        await world.refresh.execute(RefreshInput(refresh_token=first.refresh_token))

    with pytest.raises(AuthenticationFailed) as raised:
        await world.refresh.execute(RefreshInput(refresh_token=newest.refresh_token))
    assert raised.value.code == "invalid_refresh_token"


async def test_reuse_in_one_family_leaves_other_logins_alone(world: World, alice: User) -> None:
    stolen = await world.login()
    other_device = await world.login()
    await world.refresh.execute(RefreshInput(refresh_token=stolen.refresh_token))

    with pytest.raises(AuthenticationFailed):
        await world.refresh.execute(RefreshInput(refresh_token=stolen.refresh_token))

    still = await world.refresh.execute(RefreshInput(refresh_token=other_device.refresh_token))
    assert still.user.id == alice.id


async def test_an_unknown_refresh_token_is_refused(world: World, alice: User) -> None:
    with pytest.raises(AuthenticationFailed) as raised:
        await world.refresh.execute(RefreshInput(refresh_token="made-up"))

    assert raised.value.code == "invalid_refresh_token"


async def test_a_refresh_token_expires_after_30_days(world: World, alice: User) -> None:
    pair = await world.login()
    world.clock.advance(timedelta(days=30))

    with pytest.raises(AuthenticationFailed) as raised:
        await world.refresh.execute(RefreshInput(refresh_token=pair.refresh_token))

    assert raised.value.code == "invalid_refresh_token"


async def test_logout_revokes_the_refresh_token(world: World, alice: User) -> None:
    pair = await world.login()

    await world.logout.execute(LogoutInput(user_id=alice.id, refresh_token=pair.refresh_token))

    with pytest.raises(AuthenticationFailed):
        await world.refresh.execute(RefreshInput(refresh_token=pair.refresh_token))


async def test_logout_revokes_the_rotated_successors_too(world: World, alice: User) -> None:
    first = await world.login()
    second = await world.refresh.execute(RefreshInput(refresh_token=first.refresh_token))

    await world.logout.execute(LogoutInput(user_id=alice.id, refresh_token=first.refresh_token))

    with pytest.raises(AuthenticationFailed):
        await world.refresh.execute(RefreshInput(refresh_token=second.refresh_token))


async def test_logout_with_an_unknown_token_succeeds_and_changes_nothing(
    world: World, alice: User
) -> None:
    pair = await world.login()

    await world.logout.execute(LogoutInput(user_id=alice.id, refresh_token="made-up"))

    assert (await world.refresh.execute(RefreshInput(refresh_token=pair.refresh_token))).user


async def test_logout_with_another_users_token_changes_nothing(
    world: World, alice: User, bob: User
) -> None:
    bobs = await world.login(BOB)

    await world.logout.execute(LogoutInput(user_id=alice.id, refresh_token=bobs.refresh_token))

    assert (await world.refresh.execute(RefreshInput(refresh_token=bobs.refresh_token))).user


async def test_access_tokens_name_their_user_and_expire_after_15_minutes(
    world: World, alice: User
) -> None:
    pair = await world.login()
    assert world.tokens.verify(pair.access_token) == alice.id

    world.clock.advance(timedelta(minutes=15))

    with pytest.raises(AuthenticationFailed) as raised:
        world.tokens.verify(pair.access_token)
    assert raised.value.code == "invalid_token"


# Profile


async def test_get_me_shows_tier_and_todays_usage(world: World, alice: User) -> None:
    profile = await world.get_me.execute(alice.id)

    assert profile.user == alice
    assert profile.tier is Tier.BASIC
    assert profile.usage.used_today == 0
    assert profile.usage.daily_limit == 5
    assert profile.usage.remaining == 5
    assert profile.usage.resets_at == datetime(2025, 3, 11, tzinfo=UTC)


async def test_get_me_for_a_missing_user_is_not_found(world: World, alice: User) -> None:
    with pytest.raises(NotFound) as raised:
        await world.get_me.execute(UserId(world.ids.new_id()))

    assert raised.value.code == "user_not_found"
