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


def _destination_for(spec: Mapping[str, Any], headers: Mapping[str, str], subset: str) -> Mapping[str, Any]:
    route = route_for(spec, headers)
    if "headers" in route:
        # Envoy merges route-level and destination-level operations in an order of its own.
        raise UnmodelledSpecError("route-level headers not modelled")
    for destination in route["route"]:
        if destination["destination"]["subset"] == subset:
            return destination  # type: ignore[no-any-return]
    raise LookupError(subset)


def _response_operations(destination: Mapping[str, Any]) -> Mapping[str, Mapping[str, str]]:
    operations: Mapping[str, Any] = destination.get("headers", {})
    unmodelled = {f"headers.{kind}" for kind in set(operations) - {"response"}}
    response: Mapping[str, Mapping[str, str]] = operations.get("response", {})
    unmodelled |= {f"headers.response.{kind}" for kind in set(response) - {"set", "add"}}
    if unmodelled:
        raise UnmodelledSpecError(f"destination fields not modelled: {sorted(unmodelled)}")
    return response


def response_headers_for(spec: Mapping[str, Any], headers: Mapping[str, str], subset: str) -> dict[str, str]:
    """The response headers the mesh `set`s when such a request goes to `subset`: one value per
    name, replacing the app's. What it `add`s is in `answer_headers_for`."""
    return dict(_response_operations(_destination_for(spec, headers, subset)).get("set", {}))


def answer_headers_for(
    spec: Mapping[str, Any],
    headers: Mapping[str, str],
    subset: str,
    upstream: Sequence[tuple[str, str]] = (),
) -> list[tuple[str, str]]:
    """The headers of the answer such a request gets from `subset`, whose app answered `upstream`.

    As Istio applies them: `set` replaces every header of that name (names are case-insensitive),
    `add` appends one more line and keeps the app's. A list of lines, not a mapping: each
    Set-Cookie is a line of its own (RFC 6265 section 3 forbids folding them into one).
    """
    response = _response_operations(_destination_for(spec, headers, subset))
    replaced = {name.lower() for name in response.get("set", {})}
    lines = [(name, value) for name, value in upstream if name.lower() not in replaced]
    lines += list(response.get("set", {}).items())
    lines += list(response.get("add", {}).items())
    return lines


def response_cookies_for(spec: Mapping[str, Any], headers: Mapping[str, str], subset: str) -> list[str]:
    """The Set-Cookie values the mesh adds to the answer when such a request goes to `subset`."""
    return [value for name, value in answer_headers_for(spec, headers, subset) if name.lower() == "set-cookie"]


# Istio's other spellings of a mirror: the list form and the deprecated integer percentages.
_UNMODELLED_MIRROR_FIELDS = {"mirrors", "mirrorPercent", "mirror_percent"}


def mirror_for(spec: Mapping[str, Any], headers: Mapping[str, str]) -> tuple[str, float] | None:
    """(subset, percent) to which the route such a request takes also sends a share of its
    requests, the answers discarded; None when it mirrors nothing."""
    route = route_for(spec, headers)
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
