"""How Istio routes a request by a VirtualService: the fields this project writes, interpreted.

Given a VirtualService spec and a request's headers, the first HTTP route with a match entry
that holds takes the request (entries are ORed, the conditions inside one entry ANDed, no match
list matches everything); its destination weights give the split, and a lone destination gets
everything. The program derives its `routes` output and what the VirtualService waits for from
this reading of the spec it generates, so the two cannot drift apart.

Envoy matches header regexes with RE2 against the whole value. The regexes this project writes
use only syntax on which RE2 and Python's `re` agree (the tests check them against RE2 itself),
so `re` stands in for RE2 here and the program carries no RE2 binding.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any


class UnmodelledSpecError(ValueError):
    """The spec uses a field this interpreter does not model, so it cannot tell what Istio does."""


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


def route_for(spec: Mapping[str, Any], headers: Mapping[str, str]) -> Mapping[str, Any]:
    """The HTTP route that takes a request with these headers (names lower-case)."""
    for route in spec["http"]:
        matches = route.get("match")
        if not matches or any(_entry_matches(entry, headers) for entry in matches):
            return route  # type: ignore[no-any-return]
    raise LookupError("no route takes the request: Istio answers 404")


def split_for(spec: Mapping[str, Any], headers: Mapping[str, str]) -> dict[str, int]:
    """Percent of such requests per subset."""
    destinations = route_for(spec, headers)["route"]
    if len(destinations) == 1:
        return {destinations[0]["destination"]["subset"]: 100}
    split = {d["destination"]["subset"]: d.get("weight", 0) for d in destinations}
    if sum(split.values()) != 100:
        raise ValueError(f"weights must add up to 100: {split}")
    return split


def response_headers_for(spec: Mapping[str, Any], headers: Mapping[str, str], subset: str) -> dict[str, str]:
    """The response headers the mesh sets when such a request goes to `subset`."""
    for destination in route_for(spec, headers)["route"]:
        if destination["destination"]["subset"] == subset:
            return dict(destination.get("headers", {}).get("response", {}).get("set", {}))
    raise LookupError(subset)


def routed_subsets(spec: Mapping[str, Any]) -> list[str]:
    """Every subset some request can reach: those named by a destination with a share above 0."""
    reached: dict[str, None] = {}
    for route in spec["http"]:
        destinations: Sequence[Mapping[str, Any]] = route["route"]
        for destination in destinations:
            # A lone destination takes everything whatever its weight says; with several, 0 is none.
            if len(destinations) == 1 or destination.get("weight", 0) > 0:
                reached[destination["destination"]["subset"]] = None
    return list(reached)
