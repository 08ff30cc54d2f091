"""`trafficPolicy` and `httpRoute`: Istio's own fields beside the release's routing, checked before anything registers.

`trafficPolicy` is the DestinationRule's (`connectionPool`, `outlierDetection`, `loadBalancer`,
...); `httpRoute` the fields of each VirtualService HTTP route that are not the routing itself
(`timeout`, `retries`, `corsPolicy`). Both are checked against the schemas of Istio's
networking.istio.io/v1 CRDs (`canary/schemas/istio.json`, derived from the CRDs the tests validate
with), unknown fields refused, and against what would break the release's own routing. The
CRDs' one CEL rule in these parts, a duration of at least 1ms, is checked here natively.

Under the Gateway API each key maps to what that API and Istio offer there, or is refused naming
the API (GATEWAY_API_REFUSED); none is dropped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
import jsonschema.validators

from canary.plan.kubernetes_schema import Problem, path_text

HTTP_ROUTE_FIELDS = ("timeout", "retries", "corsPolicy")
TLS_REFUSED = (
    "would override the mesh's automatic mutual TLS to the app's pods (with security.mtls they accept "
    "nothing else): leave tls to the mesh"
)
GATEWAY_API_REFUSED = {
    "retries": "has no place in the Gateway API's standard channel (v1.6: HTTPRoute `retry` is experimental); "
    "use routing.api istio",
    "corsPolicy": "has no place in the Gateway API's standard channel (v1.6: the HTTPRoute CORS filter is "
    "experimental); use routing.api istio",
}
# The Gateway API's Duration (GEP-2257): up to four whole-number parts of h, m, s or ms.
_GATEWAY_API_DURATION = re.compile(r"^([0-9]{1,5}(h|m|s|ms)){1,4}$")
_GO_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|ms|s|m|h)")
_NANOSECONDS = {"ns": 1, "us": 1e3, "µs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}


def go_duration_nanoseconds(text: str) -> float | None:
    """A Go duration (`1.5s`, `1m30s`) in nanoseconds, or None if it is not one."""
    body = text[1:] if text[:1] in "+-" else text
    if not body or body == "0":
        return 0.0 if body == "0" else None
    position, total = 0, 0.0
    for part in _GO_DURATION_PART.finditer(body):
        if part.start() != position or part.group(1) in ("", "."):
            return None
        total += float(part.group(1)) * _NANOSECONDS[part.group(2)]
        position = part.end()
    if position != len(body):
        return None
    return -total if text.startswith("-") else total


def _cel_rules(validator: Any, rules: Any, instance: Any, schema: Any) -> Iterator[jsonschema.ValidationError]:
    # The derivation refuses any other rule, so this is the only one to read.
    if isinstance(instance, str):
        nanoseconds = go_duration_nanoseconds(instance)
        if nanoseconds is None or nanoseconds < 1e6:
            yield jsonschema.ValidationError("must be a duration of at least 1ms, such as 500ms or 2s")


@cache
def _schemas() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(resources.files("canary").joinpath("schemas/istio.json").read_text())
    return loaded


@cache
def _validator(part: str) -> jsonschema.protocols.Validator:
    extend: Any = jsonschema.validators.extend  # untyped in the stubs
    kind: type[jsonschema.protocols.Validator] = extend(
        jsonschema.Draft7Validator, {"x-kubernetes-validations": _cel_rules}
    )
    return kind(_schemas()[part])


def _problem(error: jsonschema.ValidationError, part: str) -> Problem:
    path = path_text(list(error.absolute_path))
    instance: Any = error.instance
    if error.validator == "additionalProperties":
        known = error.schema.get("properties", {}) if isinstance(error.schema, Mapping) else {}
        unknown = sorted(key for key in instance if key not in known)[0]
        where = f"{path}.{unknown}" if path else unknown
        if part == "httpRoute" and not path:
            return (
                where,
                instance[unknown],
                (f"unknown field: httpRoute takes {', '.join(HTTP_ROUTE_FIELDS)}; the routing itself is the release's"),
            )
        return where, instance[unknown], "unknown field"
    if error.validator == "type":
        return path, instance, f"must be of type {error.validator_value}"
    if error.validator == "enum":
        return path, instance, f"must be one of {error.validator_value}"
    if error.validator == "oneOf":
        options: Any = error.validator_value
        keys = [key for option in options for key in option.get("required", [])]
        return path, instance, f"must set exactly one of {', '.join(keys)}"
    return path, instance, error.message


def _schema_problems(block: Any, part: str) -> list[Problem]:
    if not isinstance(block, Mapping):
        return [("", block, "must be a mapping")]
    errors = sorted(_validator(part).iter_errors(block), key=lambda error: list(map(str, error.absolute_path)))
    return [_problem(error, part) for error in errors]


def traffic_policy_problems(policy: Any, cookies: Sequence[str]) -> Iterator[Problem]:
    """What in `policy` the CRD refuses, or what would break subset routing or the `cookies` it routes by."""
    found = _schema_problems(policy, "trafficPolicy")
    if found:
        yield from found
        return
    if "tls" in policy:
        yield "tls", policy["tls"], TLS_REFUSED
    for index, port in enumerate(policy.get("portLevelSettings") or []):
        if "tls" in port:
            yield f"portLevelSettings[{index}].tls", port["tls"], TLS_REFUSED
    cookie = ((policy.get("loadBalancer") or {}).get("consistentHash") or {}).get("httpCookie") or {}
    if cookie.get("name") in cookies:
        yield (
            "loadBalancer.consistentHash.httpCookie.name",
            cookie["name"],
            "is a cookie the release routes by: Envoy would set it to its own hash value and break the pin; "
            "name the hash cookie otherwise",
        )


def http_route_problems(route: Any, routing_api: str) -> Iterator[Problem]:
    """What in `route` the VirtualService CRD refuses, or what the routing API in use cannot carry."""
    found = _schema_problems(route, "httpRoute")
    if found:
        yield from found
        return
    if routing_api == "gateway-api":
        for key, reason in GATEWAY_API_REFUSED.items():
            if key in route:
                yield key, route[key], reason
        timeout = route.get("timeout")
        if timeout is not None and not _GATEWAY_API_DURATION.match(timeout):
            yield (
                "timeout",
                timeout,
                (
                    "must be a Gateway API duration under routing.api gateway-api: whole numbers of h, m, s or ms, "
                    "such as 1m30s or 500ms"
                ),
            )


def gateway_api_timeouts(route: Mapping[str, Any]) -> dict[str, Any]:
    """`httpRoute` as an HTTPRoute rule's fields: the request timeout (the only key that maps)."""
    return {"timeouts": {"request": route["timeout"]}} if "timeout" in route else {}


def routed_cookies(canary: Any) -> list[str]:
    """The names of the cookies the release routes by: the canary's and the sticky pin's."""
    if canary is None:
        return []
    found = [canary.cookie.partition("=")[0]] if canary.cookie else []
    return found + ([canary.sticky.cookie] if canary.sticky is not None else [])
