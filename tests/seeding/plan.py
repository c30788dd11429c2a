"""How many rooms each user has and how many messages each room holds, from a seed.

The ratios are the issue's (100 000 users, 1 000 000 rooms, 10 000 000 messages: a
hundred messages and ten rooms a user), scaled by the number of messages. Sizes are
skewed as chat services are: most users keep a few rooms and a few keep hundreds; most
rooms hold one to three exchanges, some dozens, a few hundreds; about one user in ten
never made a room and about one room in ten was never written in (the budget of rooms and
messages runs out before the last users and rooms get theirs). One room holds
`deep_room_messages` (5 000), for the history page deep in a long room.
"""

from __future__ import annotations

import random
from array import array
from collections.abc import Callable
from dataclasses import dataclass

MESSAGES_PER_USER = 100
MESSAGES_PER_ROOM = 10
DEEP_ROOM_MESSAGES = 5_000
USERS_PER_CHUNK = 500
"""Users (with their rooms and messages) generated and copied together: each chunk has its
own random stream, so chunks can load in any order and in parallel and stay the same."""


@dataclass(frozen=True, slots=True)
class Shape:
    """The size of a seeded database: `messages` exactly, and the users and rooms in the
    issue's ratios."""

    messages: int
    seed: int = 1

    @property
    def users(self) -> int:
        return -(-self.messages // MESSAGES_PER_USER)

    @property
    def rooms(self) -> int:
        return -(-self.messages // MESSAGES_PER_ROOM)

    @property
    def deep_room_messages(self) -> int:
        """The deep room exists once the database is at least four times its size."""
        return DEEP_ROOM_MESSAGES if self.messages >= 4 * DEEP_ROOM_MESSAGES else 0

    def random(self, *stream: object) -> random.Random:
        """The random stream named by `stream`, the same in every run and process."""
        return random.Random("/".join(str(part) for part in (self.seed, *stream)))


@dataclass(frozen=True, slots=True)
class Plan:
    """Rooms per user (in user order) and messages per room (rooms in their owners' order);
    `deep_room` is the index of the room of `Shape.deep_room_messages` messages."""

    shape: Shape
    rooms_per_user: array[int]
    messages_per_room: array[int]
    deep_room: int | None

    def chunks(self) -> list[Chunk]:
        """The users in chunks of `USERS_PER_CHUNK`, each with where its rooms start."""
        chunks: list[Chunk] = []
        room = 0
        for first in range(0, len(self.rooms_per_user), USERS_PER_CHUNK):
            last = min(first + USERS_PER_CHUNK, len(self.rooms_per_user))
            rooms = sum(self.rooms_per_user[first:last])
            chunks.append(Chunk(first_user=first, end_user=last, first_room=room))
            room += rooms
        return chunks


@dataclass(frozen=True, slots=True)
class Chunk:
    first_user: int
    end_user: int
    first_room: int


def plan(shape: Shape) -> Plan:
    rooms_per_user = _spread(shape.rooms, shape.users, _rooms_of_a_user, shape.random("rooms"))
    deep_room = shape.rooms // 2 if shape.deep_room_messages else None
    messages_per_room = _spread(
        shape.messages - shape.deep_room_messages,
        shape.rooms,
        _messages_of_a_room,
        shape.random("messages"),
        reserved=deep_room,
    )
    if deep_room is not None:
        messages_per_room[deep_room] = shape.deep_room_messages
    return Plan(shape, rooms_per_user, messages_per_room, deep_room)


def _spread(
    total: int,
    slots: int,
    draw: Callable[[random.Random], int],
    rng: random.Random,
    reserved: int | None = None,
) -> array[int]:
    """`total` spread over `slots` by successive draws until it runs out (later slots get
    nothing); never leaves a slot with exactly one (a post stores two messages at once)."""
    counts = array("i", bytes(4 * slots))
    left = total
    while left:
        for index in range(slots):
            if not left:
                break
            if index == reserved:
                continue
            taken = min(draw(rng), left)
            if left - taken == 1:
                taken += 1
            counts[index] += taken
            left -= taken
    return counts


def _rooms_of_a_user(rng: random.Random) -> int:
    pick = rng.random()
    if pick < 0.4:
        return rng.randint(1, 4)
    if pick < 0.8:
        return rng.randint(5, 15)
    return min(16 + int((rng.paretovariate(1.5) - 1) * 8), 5_000)


def _messages_of_a_room(rng: random.Random) -> int:
    """Two messages an exchange, and now and then a third (a regenerated reply)."""
    pick = rng.random()
    if pick < 0.6:
        exchanges = rng.randint(1, 3)
    elif pick < 0.93:
        exchanges = rng.randint(4, 12)
    else:
        exchanges = min(13 + int((rng.paretovariate(1.5) - 1) * 6), 2_000)
    return 2 * exchanges + (rng.random() < 0.15)
