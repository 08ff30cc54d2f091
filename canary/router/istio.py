"""How Istio routes a request by a VirtualService: the fields this project writes, interpreted.

Given a VirtualService spec and a request's headers, the first HTTP route with a match entry
that holds takes the request (entries are ORed, the conditions inside one entry ANDed, no match
list matches everything); its destination weights give the split, and a lone destination gets
everything. A destination's subset is the version's name.

Envoy matches header regexes with RE2 against the whole value. The regexes this project writes
use only syntax on which RE2 and Python's `re` agree (the tests check them against RE2 itself),
so `re` stands in for RE2 here and the program carries no RE2 binding.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from canary.router.interface import UnmodelledSpecError, apply_response_operations

# Istio's other spellings of a mirror: the list form and the deprecated integer percentages.
_UNMODELLED_MIRROR_FIELDS = {"mirrors", "mirrorPercent", "mirror_percent"}


def _condition_holds(condition: Mapping[str, Any], value: str | None) -> bool:
    kinds = set(condition) & {"exact", "regex", "prefix"}
    if len(kinds) != 1 or len(condition) != 1:
        raise UnmodelledSpecError(f"header condition not modelled: {sorted(condition)}")
    if value is None:
        # A condition on a header the request lacks never holds.
        return False
    if "exact" in condition:
        return bool(value == condition["exact"])
    if "regex" in condition:
        return re.fullmatch(condition["regex"], value) is not None
    return value.startswith(condition["prefix"])


def _entry_matches(entry: Mapping[str, Any], headers: Mapping[str, str]) -> bool:
    unmodelled = set(entry) - {"headers", "name"}
    if unmodelled:
        raise UnmodelledSpecError(f"match fields not modelled: {sorted(unmodelled)}")
    conditions: Mapping[str, Mapping[str, Any]] = entry.get("headers", {})
    return all(_condition_holds(condition, headers.get(name)) for name, condition in conditions.items())


def _response_operations(destination: Mapping[str, Any]) -> Mapping[str, Mapping[str, str]]:
    operations: Mapping[str, Any] = destination.get("headers", {})
    unmodelled = {f"headers.{kind}" for kind in set(operations) - {"response"}}
    response: Mapping[str, Mapping[str, str]] = operations.get("response", {})
    unmodelled |= {f"headers.response.{kind}" for kind in set(response) - {"set", "add"}}
    if unmodelled:
        raise UnmodelledSpecError(f"destination fields not modelled: {sorted(unmodelled)}")
    return response


class IstioRouter:
    """A VirtualService spec, read as Istio routes by it."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.spec = spec

    def rule_for(self, headers: Mapping[str, str]) -> Mapping[str, Any]:
        """The HTTP route that takes a request with these headers (names lower-case)."""
        for route in self.spec["http"]:
            matches = route.get("match")
            if not matches or any(_entry_matches(entry, headers) for entry in matches):
                return route  # type: ignore[no-any-return]
        raise LookupError("no route takes the request: Istio answers 404")

    def split(self, headers: Mapping[str, str]) -> dict[str, int]:
        destinations = self.rule_for(headers)["route"]
        if len(destinations) == 1:
            return {destinations[0]["destination"]["subset"]: 100}
        split = {d["destination"]["subset"]: d.get("weight", 0) for d in destinations}
        if sum(split.values()) != 100:
            raise ValueError(f"weights must add up to 100: {split}")
        return split

    def reachable(self) -> list[str]:
        """The subsets named by a destination with a share above 0."""
        reached: dict[str, None] = {}
        for route in self.spec["http"]:
            destinations: Sequence[Mapping[str, Any]] = route["route"]
            for destination in destinations:
                # A lone destination takes everything whatever its weight says; with several, 0 is none.
                if len(destinations) == 1 or destination.get("weight", 0) > 0:
                    reached[destination["destination"]["subset"]] = None
        return list(reached)

    def _destination(self, headers: Mapping[str, str], version: str) -> Mapping[str, Any]:
        route = self.rule_for(headers)
        if "headers" in route:
            # Envoy merges route-level and destination-level operations in an order of its own.
            raise UnmodelledSpecError("route-level headers not modelled")
        for destination in route["route"]:
            if destination["destination"]["subset"] == version:
                return destination  # type: ignore[no-any-return]
        raise LookupError(version)

    def answer_headers(
        self, headers: Mapping[str, str], version: str, upstream: Sequence[tuple[str, str]] = ()
    ) -> list[tuple[str, str]]:
        """As Istio applies a destination's `headers.response`: `set` replaces, `add` appends."""
        response = _response_operations(self._destination(headers, version))
        set_lines = list(response.get("set", {}).items())
        return apply_response_operations(upstream, set_lines, list(response.get("add", {}).items()))

    def mirror(self, headers: Mapping[str, str]) -> tuple[str, float] | None:
        route = self.rule_for(headers)
        unmodelled = set(route) & _UNMODELLED_MIRROR_FIELDS
        if unmodelled:
            raise UnmodelledSpecError(f"mirror fields not modelled: {sorted(unmodelled)}")
        mirror: Mapping[str, Any] | None = route.get("mirror")
        if mirror is None:
            # A mirrorPercentage without a mirror has nothing to send: Istio ignores it.
            return None
        if set(mirror) != {"host", "subset"}:
            raise UnmodelledSpecError(f"mirror destination not modelled: {sorted(mirror)}")
        # Istio mirrors everything when mirrorPercentage is absent.
        percent = float(route.get("mirrorPercentage", {"value": 100.0})["value"])
        return mirror["subset"], percent
