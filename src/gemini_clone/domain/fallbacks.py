"""Fallback chains: which model writes a reply when the one asked for is out of service.

`MODEL_FALLBACKS` lists links `asked>next`, comma-separated; links sharing models make
chains (`gemini-2.5-pro>gemini-2.5-flash,gemini-2.5-flash>gemini-2.0-flash`: a reply asked
of the Pro model falls back to Flash, then to 2.0 Flash).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass


class FallbackError(ValueError):
    """The links cannot be used; the message says which and why."""


@dataclass(frozen=True, slots=True, init=False)
class FallbackChains:
    """Each model's next model, checked when made:

    - every model named is one of the catalogue's;
    - a model has one next model (two would leave it ambiguous which answers);
    - no chain comes back to a model it passed (a cycle would never end);
    - a model any plan may pick never falls back to one only Pro users may (a Basic user
      would get a Pro model's answer); a Pro model may fall back to a Basic one.
    """

    next_of: Mapping[str, str]

    def __init__(
        self,
        next_of: Mapping[str, str],
        *,
        catalogue: Collection[str],
        pro_only: Collection[str] = (),
    ) -> None:
        for asked, fallback in next_of.items():
            unknown = [model for model in (asked, fallback) if model not in catalogue]
            if unknown:
                raise FallbackError(
                    f"{asked}>{fallback} names a model nobody serves: {', '.join(unknown)}"
                    f" (the models are {', '.join(catalogue)})"
                )
            if asked not in pro_only and fallback in pro_only:
                raise FallbackError(
                    f"{asked}>{fallback}: {asked} is open to Basic users and {fallback} is for"
                    " Pro users only; a Basic model never falls back to a Pro one"
                )
        for start in next_of:
            chain = [start]
            while (model := next_of.get(chain[-1])) is not None:
                if model in chain:
                    raise FallbackError(f"the chain {'>'.join([*chain, model])} is a cycle")
                chain.append(model)
        object.__setattr__(self, "next_of", dict(next_of))

    @classmethod
    def parse(
        cls, listed: str | None, *, catalogue: Collection[str], pro_only: Collection[str] = ()
    ) -> FallbackChains:
        """Links `asked>next`, comma-separated, spaces ignored; None or empty: no chains."""
        next_of: dict[str, str] = {}
        for link in (part.strip() for part in (listed or "").split(",")):
            if not link:
                continue
            asked, sign, fallback = (part.strip() for part in link.partition(">"))
            if not sign or not asked or not fallback or ">" in fallback:
                raise FallbackError(f"{link!r} is not a link; write asked>next, such as a>b")
            if next_of.get(asked, fallback) != fallback:
                raise FallbackError(
                    f"{asked} falls back to both {next_of[asked]} and {fallback}; give it one"
                )
            next_of[asked] = fallback
        return cls(next_of, catalogue=catalogue, pro_only=pro_only)

    def chain(self, model: str) -> tuple[str, ...]:
        """`model`, then the models that write its replies in turn when it cannot."""
        chain = [model]
        while (fallback := self.next_of.get(chain[-1])) is not None:
            chain.append(fallback)
        return tuple(chain)


NO_FALLBACKS = FallbackChains({}, catalogue=())
"""No model falls back: each reply is written by the model asked, or fails."""
