"""How a Gateway API implementation routes a request by an HTTPRoute: the fields this project writes.

The matches of a rule are ORed and the header conditions inside one match ANDed, but across
rules the match that wins is the most specific one by the spec's precedence (path, method, then
the most header matches, then query parameters), ties going to the earlier rule and, within a
rule, to the earlier match. This project writes only header matches on the default path, so
precedence comes down to "most header matches, then list order"; any other kind of match is
refused rather than guessed at. A backendRef's weight defaults to 1 and is relative to the
others' of its rule.

The Gateway API has no subsets: a backend is a Service, and the router is told which version
each backend Service is. Its keys are the backendRef names as the spec holds them: plain
strings in an object read from the API server, the Services' own name outputs in the object the
plan generates (the HTTPRoute takes the Services by reference).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from canary.router.interface import UnmodelledSpecError, apply_response_operations

# The path every match has when it names none (the API server writes it in).
_DEFAULT_PATH = {"type": "PathPrefix", "value": "/"}
_SERVICE_REF_DEFAULTS = {"group": "", "kind": "Service"}


def _header_holds(condition: Mapping[str, Any], headers: Mapping[str, str]) -> bool:
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


def _match_headers(match: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
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


def _rule_backends(rule: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    unmodelled = {f.get("type") for f in rule.get("filters", [])} - {"RequestMirror"}
    if unmodelled:
        # A redirect or a rewrite changes what answers; only mirroring leaves the split alone.
        raise UnmodelledSpecError(f"HTTPRoute rule filters not modelled: {sorted(map(str, unmodelled))}")
    backends: Sequence[Mapping[str, Any]] = rule.get("backendRefs", [])
    return backends


class GatewayApiRouter:
    """An HTTPRoute spec, read as the Gateway API defines its routing."""

    def __init__(self, spec: Mapping[str, Any], versions: Mapping[Any, str]) -> None:
        """`versions`: the version behind each backend Service, keyed by the name the backendRefs hold."""
        self.spec = spec
        self.versions = versions

    def _version(self, ref: Mapping[str, Any]) -> str:
        unmodelled = set(ref) - {"name", "port", "weight", "filters", *_SERVICE_REF_DEFAULTS}
        if unmodelled or any(ref.get(key, default) != default for key, default in _SERVICE_REF_DEFAULTS.items()):
            raise UnmodelledSpecError(f"backendRef not modelled (a Service of the route's namespace is): {dict(ref)}")
        version = self.versions.get(ref["name"])
        if version is None:
            raise UnmodelledSpecError(f"backendRef names no version's Service: {ref['name']!r}")
        return version

    def rule_for(self, headers: Mapping[str, str]) -> Mapping[str, Any]:
        """The HTTPRoute rule that takes a request with these headers (names lower-case)."""
        candidates = []
        for index, rule in enumerate(self.spec["rules"]):
            # A rule without matches has the default one: every request on the default path.
            for match in rule.get("matches") or [{}]:
                conditions = _match_headers(match)
                candidates.append((-len(conditions), index, conditions, rule))
        # Stable: among equally specific matches, the earlier rule and the earlier match win.
        for _, _, conditions, rule in sorted(candidates, key=lambda candidate: candidate[:2]):
            if all(_header_holds(condition, headers) for condition in conditions):
                return rule  # type: ignore[no-any-return]
        raise LookupError("no rule takes the request: the gateway answers 404")

    def split(self, headers: Mapping[str, str]) -> dict[str, int]:
        weights: dict[str, int] = {}
        for ref in _rule_backends(self.rule_for(headers)):
            version = self._version(ref)
            weights[version] = weights.get(version, 0) + ref.get("weight", 1)
        total = sum(weights.values())
        if total == 0:
            raise LookupError("the rule has no backend with weight: the gateway answers 500")
        if any(weight * 100 % total for weight in weights.values()):
            raise UnmodelledSpecError(f"weights that are no whole percents: {weights}")
        return {version: weight * 100 // total for version, weight in weights.items()}

    def reachable(self) -> list[str]:
        """The versions of a backendRef with a weight above 0; a mirror alone reaches nothing."""
        reached: dict[str, None] = {}
        for rule in self.spec["rules"]:
            for ref in _rule_backends(rule):
                # Unlike a lone Istio destination, a lone backendRef of weight 0 gets nothing.
                if ref.get("weight", 1) > 0:
                    reached[self._version(ref)] = None
        return list(reached)

    def _response_modifier(self, headers: Mapping[str, str], version: str) -> Mapping[str, Any]:
        """The set and add lists of the backendRef's ResponseHeaderModifier (empty without one)."""
        for ref in _rule_backends(self.rule_for(headers)):
            if self._version(ref) != version:
                continue
            modifiers: list[Mapping[str, Any]] = []
            for item in ref.get("filters", []):
                if item.get("type") != "ResponseHeaderModifier" or set(item["responseHeaderModifier"]) - {"set", "add"}:
                    raise UnmodelledSpecError(f"backendRef filter not modelled: {dict(item)}")
                modifiers.append(item["responseHeaderModifier"])
            if len(modifiers) > 1:
                raise UnmodelledSpecError("more than one ResponseHeaderModifier on a backendRef")
            return modifiers[0] if modifiers else {}
        raise LookupError(version)

    def answer_headers(
        self, headers: Mapping[str, str], version: str, upstream: Sequence[tuple[str, str]] = ()
    ) -> list[tuple[str, str]]:
        """As a backendRef's ResponseHeaderModifier applies: `set` overwrites, `add` appends."""
        modifier = self._response_modifier(headers, version)
        set_lines = [(header["name"], header["value"]) for header in modifier.get("set", [])]
        add_lines = [(header["name"], header["value"]) for header in modifier.get("add", [])]
        return apply_response_operations(upstream, set_lines, add_lines)

    def mirror(self, headers: Mapping[str, str]) -> tuple[str, float] | None:
        rule = self.rule_for(headers)
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
        return self._version(mirror["backendRef"]), percent
