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


# --- The Gateway API's HTTPRoute ----------------------------------------------------------------
# The same questions, asked of an HTTPRoute spec. Its semantics differ from the VirtualService's:
# the matches of a rule are ORed and the header conditions inside one match ANDed, but across
# rules the match that wins is the most specific one by the spec's precedence (path, method, then
# the most header matches, then query parameters), ties going to the earlier rule and, within a
# rule, to the earlier match. This project writes only header matches on the default path, so
# precedence comes down to "most header matches, then list order"; any other kind of match is
# refused rather than guessed at. A backendRef's weight defaults to 1 and is relative to the
# others' of its rule.

# The path every match has when it names none (the API server writes it in).
_DEFAULT_PATH = {"type": "PathPrefix", "value": "/"}
_SERVICE_REF_DEFAULTS = {"group": "", "kind": "Service"}


def _http_header_holds(condition: Mapping[str, Any], headers: Mapping[str, str]) -> bool:
    unmodelled = set(condition) - {"name", "value", "type"}
    kind = condition.get("type", "Exact")
    if unmodelled or kind not in ("Exact", "RegularExpression"):
        raise UnmodelledSpecError(f"header match not modelled: {dict(condition)}")
    # Header names are case-insensitive; the request's are lower-case.
    value = headers.get(condition["name"].lower())
    if value is None:
        return False
    if kind == "Exact":
        return bool(value == condition["value"])
    return re.fullmatch(condition["value"], value) is not None


def _http_match_headers(match: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    """A match's header conditions, once it is known to use nothing but them."""
    unmodelled = set(match) - {"headers", "path"}
    if unmodelled or match.get("path", _DEFAULT_PATH) != _DEFAULT_PATH:
        raise UnmodelledSpecError(f"HTTPRoute match not modelled: {dict(match)}")
    conditions: Sequence[Mapping[str, Any]] = match.get("headers", [])
    names = [condition["name"].lower() for condition in conditions]
    if len(set(names)) != len(names):
        # The spec then honours only the first of them; this project never writes that.
        raise UnmodelledSpecError(f"HTTPRoute match names a header twice: {names}")
    return conditions


def http_rule_for(spec: Mapping[str, Any], headers: Mapping[str, str]) -> Mapping[str, Any]:
    """The HTTPRoute rule that takes a request with these headers (names lower-case)."""
    candidates = []
    for index, rule in enumerate(spec["rules"]):
        # A rule without matches has the default one: every request on the default path.
        for match in rule.get("matches") or [{}]:
            conditions = _http_match_headers(match)
            candidates.append((-len(conditions), index, conditions, rule))
    # Stable: among equally specific matches, the earlier rule and the earlier match win.
    for _, _, conditions, rule in sorted(candidates, key=lambda candidate: candidate[:2]):
        if all(_http_header_holds(condition, headers) for condition in conditions):
            return rule  # type: ignore[no-any-return]
    raise LookupError("no rule takes the request: the gateway answers 404")


def _backend_name(ref: Mapping[str, Any]) -> str:
    unmodelled = set(ref) - {"name", "port", "weight", "filters", *_SERVICE_REF_DEFAULTS}
    if unmodelled or any(ref.get(key, default) != default for key, default in _SERVICE_REF_DEFAULTS.items()):
        raise UnmodelledSpecError(f"backendRef not modelled (a Service of the route's namespace is): {dict(ref)}")
    return str(ref["name"])


def _rule_backends(rule: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    unmodelled = {f.get("type") for f in rule.get("filters", [])} - {"RequestMirror"}
    if unmodelled:
        # A redirect or a rewrite changes what answers; only mirroring leaves the split alone.
        raise UnmodelledSpecError(f"HTTPRoute rule filters not modelled: {sorted(map(str, unmodelled))}")
    backends: Sequence[Mapping[str, Any]] = rule.get("backendRefs", [])
    return backends


def http_split_for(spec: Mapping[str, Any], headers: Mapping[str, str]) -> dict[str, int]:
    """Percent of such requests per backend Service."""
    backends = _rule_backends(http_rule_for(spec, headers))
    weights: dict[str, int] = {}
    for ref in backends:
        name = _backend_name(ref)
        weights[name] = weights.get(name, 0) + ref.get("weight", 1)
    total = sum(weights.values())
    if total == 0:
        raise LookupError("the rule has no backend with weight: the gateway answers 500")
    split = {name: weight * 100 // total for name, weight in weights.items()}
    if any(weight * 100 % total for weight in weights.values()):
        raise UnmodelledSpecError(f"weights that are no whole percents: {weights}")
    return split


def _http_response_modifier(spec: Mapping[str, Any], headers: Mapping[str, str], backend: str) -> Mapping[str, Any]:
    """The set and add lists of the backendRef's ResponseHeaderModifier (empty without one)."""
    for ref in _rule_backends(http_rule_for(spec, headers)):
        if _backend_name(ref) != backend:
            continue
        modifiers: list[Mapping[str, Any]] = []
        for item in ref.get("filters", []):
            if item.get("type") != "ResponseHeaderModifier" or set(item["responseHeaderModifier"]) - {"set", "add"}:
                raise UnmodelledSpecError(f"backendRef filter not modelled: {dict(item)}")
            modifiers.append(item["responseHeaderModifier"])
        if len(modifiers) > 1:
            raise UnmodelledSpecError("more than one ResponseHeaderModifier on a backendRef")
        return modifiers[0] if modifiers else {}
    raise LookupError(backend)


def http_response_headers_for(spec: Mapping[str, Any], headers: Mapping[str, str], backend: str) -> dict[str, str]:
    """The response headers the gateway `set`s when such a request goes to `backend`; what it
    `add`s is in `http_answer_headers_for`."""
    return {
        header["name"]: header["value"] for header in _http_response_modifier(spec, headers, backend).get("set", [])
    }


def http_answer_headers_for(
    spec: Mapping[str, Any],
    headers: Mapping[str, str],
    backend: str,
    upstream: Sequence[tuple[str, str]] = (),
) -> list[tuple[str, str]]:
    """The headers of the answer such a request gets from `backend`, whose app answered `upstream`.

    As the Gateway API defines them: `set` overwrites every header of that name (names are
    case-insensitive), `add` appends one more line and keeps the app's.
    """
    modifier = _http_response_modifier(spec, headers, backend)
    replaced = {header["name"].lower() for header in modifier.get("set", [])}
    lines = [(name, value) for name, value in upstream if name.lower() not in replaced]
    lines += [(header["name"], header["value"]) for header in modifier.get("set", [])]
    lines += [(header["name"], header["value"]) for header in modifier.get("add", [])]
    return lines


def http_response_cookies_for(spec: Mapping[str, Any], headers: Mapping[str, str], backend: str) -> list[str]:
    """The Set-Cookie values the gateway adds to the answer when such a request goes to `backend`."""
    return [value for name, value in http_answer_headers_for(spec, headers, backend) if name.lower() == "set-cookie"]


def http_mirror_for(spec: Mapping[str, Any], headers: Mapping[str, str]) -> tuple[str, float] | None:
    """(backend, percent) of such requests also sent there, answers discarded; None for no mirror."""
    rule = http_rule_for(spec, headers)
    _rule_backends(rule)
    mirrors = [f["requestMirror"] for f in rule.get("filters", [])]
    if not mirrors:
        return None
    if len(mirrors) > 1:
        raise UnmodelledSpecError("more than one RequestMirror filter")
    mirror = mirrors[0]
    if "fraction" in mirror:
        fraction = mirror["fraction"]
        percent = 100 * fraction["numerator"] / fraction.get("denominator", 100)
    else:
        # Neither field: every request is mirrored.
        percent = float(mirror.get("percent", 100))
    return _backend_name(mirror["backendRef"]), percent


def http_route_backends(spec: Mapping[str, Any]) -> list[str]:
    """Every backend Service some request can reach: those of a rule with a weight above 0."""
    reached: dict[str, None] = {}
    for rule in spec["rules"]:
        for ref in _rule_backends(rule):
            # Unlike a lone Istio destination, a lone backendRef of weight 0 gets nothing.
            if ref.get("weight", 1) > 0:
                reached[_backend_name(ref)] = None
    return list(reached)
