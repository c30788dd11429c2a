"""Users over SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import RowMapping, delete, select, update

from gemini_clone.adapters.sql.repositories.base import SqlRepository, batches
from gemini_clone.adapters.sql.tables import chatrooms, model_calls, users
from gemini_clone.domain.errors import Conflict
from gemini_clone.domain.ids import UserId
from gemini_clone.domain.users import User
from gemini_clone.ports.repositories import UserRepository


class SqlUserRepository(SqlRepository, UserRepository):
    async def add(self, user: User) -> None:
        """Raises `Conflict` (user_exists) when the mobile number is taken."""
        statement = (
            self._insert(users)
            .values(
                id=user.id,
                mobile_number=user.mobile_number,
                name=user.name,
                email=user.email,
                password_hash=user.password_hash,
                created_at=user.created_at,
            )
            .on_conflict_do_nothing(index_elements=[users.c.mobile_number])
            .returning(users.c.id)
        )
        if (await self._execute(statement)).first() is None:
            raise Conflict("A user with this mobile number already exists.", code="user_exists")

    async def get(self, user_id: UserId) -> User | None:
        result = await self._execute(select(users).where(users.c.id == user_id))
        row = result.mappings().one_or_none()
        return None if row is None else _user(row)

    async def get_by_mobile(self, mobile_number: str) -> User | None:
        statement = select(users).where(users.c.mobile_number == mobile_number)
        row = (await self._execute(statement)).mappings().one_or_none()
        return None if row is None else _user(row)

    async def update(self, user: User) -> None:
        """Store the profile and password hash; the mobile number and creation time stay."""
        await self._execute(
            update(users)
            .where(users.c.id == user.id)
            .values(name=user.name, email=user.email, password_hash=user.password_hash)
        )

    async def list(self, *, limit: int, offset: int = 0) -> Sequence[User]:
        """Oldest first."""
        statement = (
            select(users).order_by(users.c.created_at, users.c.id).limit(limit).offset(offset)
        )
        return [_user(row) for row in (await self._execute(statement)).mappings()]

    async def delete(self, user_id: UserId) -> None:
        # The ledger has no foreign keys (its rows outlive rooms and replies); everything
        # else of the user's goes by ON DELETE CASCADE. The rooms go first, so that their
        # messages are deleted through the room index; the user's own cascade then finds
        # none left through ix_messages_user_id. The ledger's rows go after the user's:
        # a call recorded meanwhile held the user's row (`usage.record_call`), so the
        # user's delete waited for its commit and this statement sees its row.
        await self._execute(delete(chatrooms).where(chatrooms.c.user_id == user_id))
        await self._execute(delete(users).where(users.c.id == user_id))
        await self._execute(delete(model_calls).where(model_calls.c.user_id == user_id))

    async def get_many(self, user_ids: Collection[UserId]) -> Sequence[User]:
        found: list[User] = []
        for batch in batches(user_ids):
            result = await self._execute(select(users).where(users.c.id.in_(batch)))
            found.extend(_user(row) for row in result.mappings())
        return found


def _user(row: RowMapping) -> User:
    return User(
        id=UserId(row["id"]),
        mobile_number=row["mobile_number"],
        name=row["name"],
        email=row["email"],
        password_hash=row["password_hash"],
        created_at=row["created_at"],
    )
