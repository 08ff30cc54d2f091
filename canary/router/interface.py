"""The questions every router answers about its routing object, in versions, not API terms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class UnmodelledSpecError(ValueError):
    """The spec uses a field the router does not model, so it cannot tell what the data plane does."""


class Router(Protocol):
    """A routing object (a VirtualService, an HTTPRoute) read as the data plane applies it.

    Requests are given by their headers, names lower-case. A request no rule takes raises
    LookupError (the data plane answers 404); a field the router does not model raises
    UnmodelledSpecError rather than being guessed at.
    """

    def rule_for(self, headers: Mapping[str, str]) -> Mapping[str, Any]:
        """The entry of the spec that takes such a request (an HTTP route, an HTTPRoute rule)."""
        ...

    def split(self, headers: Mapping[str, str]) -> dict[str, int]:
        """Percent of such requests per version."""
        ...

    def reachable(self) -> list[str]:
        """Every version some request can reach, in the order the spec first names them."""
        ...

    def answer_headers(
        self, headers: Mapping[str, str], version: str, upstream: Sequence[tuple[str, str]] = ()
    ) -> list[tuple[str, str]]:
        """The headers of the answer such a request gets from `version`, whose app answered `upstream`."""
        ...

    def mirror(self, headers: Mapping[str, str]) -> tuple[str, float] | None:
        """(version, percent) of such requests also sent there, answers discarded; None for no mirror."""
        ...


def apply_response_operations(
    upstream: Sequence[tuple[str, str]], set_lines: Sequence[tuple[str, str]], add_lines: Sequence[tuple[str, str]]
) -> list[tuple[str, str]]:
    """The answer's header lines once `set` and `add` are applied to the app's, as both APIs define them.

    `set` replaces every header of that name (names are case-insensitive), `add` appends one more
    line and keeps the app's. A list of lines, not a mapping: each Set-Cookie is a line of its own
    (RFC 6265 section 3 forbids folding them into one).
    """
    replaced = {name.lower() for name, _ in set_lines}
    lines = [(name, value) for name, value in upstream if name.lower() not in replaced]
    return [*lines, *set_lines, *add_lines]
