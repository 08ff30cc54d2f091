"""The rules the components' Args hold their values to: pure checks, one set for both doors.

A rule takes a value and returns None when it is good, or the reason it is not
(`"must be from 0 to 100"`). The Args run their rules when they are built; the stack settings
(`canary.config`) run the same functions on the same values. So a bad value is refused for the
same reason whichever door it came through, and each door names the field in its own spelling:
`Canary.weight must be from 0 to 100, got 150` from the Args, `canary.weight: must be from 0 to
100, got 150` from the stack file.

A field that may hold a `pulumi.Output` cannot be checked before the value is known: its rule is
skipped here while the value is unresolved, and the Pulumi component applies it once it is
(`canary.components.input_checks`), with the same message.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from canary.plan.rules import names
from canary.plan.rules.quantities import parse_quantity
from canary.support.redact import redact_text

Rule = Callable[[Any], str | None]
"""A value in, None or the reason it is refused out."""

RESERVED_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease", "istio-system")
"""The cluster's own namespaces: a release never deploys into them, let alone owns them."""

_SHOWN_LENGTH = 60


class ArgsError(ValueError):
    """An Args value breaks a rule; the one-line message names the field and the value."""

    def __init__(self, field: str, value: Any, reason: str) -> None:
        super().__init__(f"{field} {reason}, got {show(value)}")
        self.field, self.value, self.reason = field, value, reason


def show(value: Any) -> str:
    """A value as the stack file spells it (true, not True), cut short: messages stay one line."""
    try:
        if isinstance(value, bool) or value is None:
            text = json.dumps(value)
        elif isinstance(value, (dict, list)):
            text = json.dumps(value, separators=(", ", ": "), default=str)
        else:
            text = repr(value)
    except ValueError:
        # A whole number past 4,300 digits, which Python will not write out (sys.get_int_max_str_digits).
        return "a number of more than 4,300 digits"
    # A URL is shown without its user:password and query string, wherever it sits in the value.
    return shortened(redact_text(text))


def shortened(text: str) -> str:
    """`text` cut to a length that keeps a message on one line."""
    return text if len(text) <= _SHOWN_LENGTH else text[: _SHOWN_LENGTH - 3] + "..."


def unresolved(value: Any) -> bool:
    """A value not known yet: a Pulumi output or another awaitable (told apart without importing Pulumi)."""
    return not isinstance(value, (str, bytes, int, float)) and (
        inspect.isawaitable(value) or callable(getattr(value, "apply", None))
    )


# --- rules for one value ------------------------------------------------------------------------


def _string(check: Callable[[str], str | None]) -> Rule:
    def rule(value: Any) -> str | None:
        if not isinstance(value, str):
            return "must be a string"
        return check(value)

    return rule


def integer_from(low: int, high: int) -> Rule:
    def rule(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be an integer"
        if not low <= value <= high:
            return f"must be from {low} to {high}"
        return None

    return rule


def number_from(low: float, high: float) -> Rule:
    def rule(value: Any) -> str | None:
        # True and "5" are no percent.
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            return f"must be a number from {low:g} to {high:g}"
        return None

    return rule


def boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def one_of(*choices: str) -> Rule:
    # Worded as pydantic words a Literal, which the stack settings type these fields with.
    quoted = [repr(choice) for choice in choices]
    expected = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"

    def rule(value: Any) -> str | None:
        return None if value in choices else f"must be one of {expected}"

    return rule


def optional(rule: Rule) -> Rule:
    """`rule`, or None for "not set"."""

    def either(value: Any) -> str | None:
        return None if value is None else rule(value)

    return either


replicas = integer_from(0, 1000)
"""Pods of one version without an autoscaler: as many as `autoscaling.max` may reach."""


def _probe_path(value: str) -> str | None:
    # An HTTP path the kubelet can request: absolute, no spaces or control characters.
    if not value.startswith("/") or any(ch.isspace() or ord(ch) < 0x21 or ord(ch) == 0x7F for ch in value):
        return "must be an absolute HTTP path such as /healthz (no spaces)"
    return None


def _quantity(value: str) -> str | None:
    try:
        amount = parse_quantity(value)
    except ValueError as err:
        return str(err)
    return "must be more than zero" if amount <= 0 else None


def _scan_reason(value: str) -> str | None:
    if not value.strip():
        return "must give a reason"
    if "=" in value or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        # checkov splits `CHECK=reason` on "=": a second one makes it crash.
        return "must be one line without '='"
    return None


_CAPABILITY = re.compile(r"[A-Z][A-Z_]*")


def _capability(value: str) -> str | None:
    return None if _CAPABILITY.fullmatch(value) else "must be a Linux capability name such as NET_BIND_SERVICE"


def _gateway_reference(value: str) -> str | None:
    # A Gateway in the rules' own namespace, or `<namespace>/<name>` for one elsewhere.
    if all(names.dns1123_subdomain(part) is None for part in value.split("/", 1)):
        return None
    return "must be a Gateway's name, or <namespace>/<name>"


def _header_value(value: str) -> str | None:
    if not value:
        return "must not be empty"
    # CR and LF would end the header; NUL and the other controls no proxy passes on.
    if any((ord(ch) < 0x20 and ch != "\t") or ord(ch) == 0x7F for ch in value):
        return "must not hold control characters (line breaks, NUL)"
    return None


def _namespace(value: str) -> str | None:
    if (reason := names.dns1123_label(value)) is not None:
        return reason
    if value in RESERVED_NAMESPACES:
        return "is one of the cluster's own namespaces; deploy the release into a namespace of its own"
    return None


namespace_name = _string(_namespace)
"""Where a release deploys: a DNS label, and none of the cluster's own namespaces."""
gateway_namespace_name = _string(names.dns1123_label)
# The app name prefixes `<app>-service`, which Kubernetes requires to be an RFC 1035 label of
# at most 63 characters: 63 - len("-service") leaves 55.
app_name = _string(lambda v: names.dns1035_label(v, max_length=55))
version_name = _string(names.dns1123_label)
host_name = _string(names.host_name)
header_name = _string(names.header_name)
response_header_name = _string(names.response_header_name)
header_value = _string(_header_value)
cookie_name = _string(names.cookie_name)
cookie_pair = _string(names.cookie_pair)
label_key = _string(names.label_key)
label_value = _string(names.label_value)
image_reference = _string(names.image_reference)
dns_subdomain = _string(names.dns1123_subdomain)
check_id = _string(names.checkov_check_id)
scan_reason = _string(_scan_reason)
probe_path = _string(_probe_path)
quantity = _string(_quantity)
capability = _string(_capability)
port = integer_from(1, 65535)
percent = integer_from(0, 100)
mirror_percent = number_from(0, 100)
autoscaling_replicas = integer_from(1, 1000)
utilization = integer_from(1, 100)
cookie_max_age = integer_from(1, 31_536_000)
user_id = integer_from(1, 2_147_483_647)
gateway_reference = _string(_gateway_reference)
load_balancer_dns = optional(_string(lambda v: names.dns_name_or_ip(v) if v else None))
"""The external-dns target: a DNS name or an IP address; None or "" for none."""


# --- rules for a list or a mapping --------------------------------------------------------------


@dataclass(frozen=True)
class Each:
    """A list: each item meets `item`; optionally at least one item, and no item twice."""

    item: FieldRule
    empty_reason: str | None = None
    """Why an empty list is refused; None allows one."""
    unique: bool = False


@dataclass(frozen=True)
class Entries:
    """A mapping: each key meets `key`, each value `value`; optionally at least one entry."""

    key: Rule | None = None
    value: FieldRule | None = None
    empty_reason: str | None = None


FieldRule = Rule | Each | Entries

hosts = Each(host_name, empty_reason="must list at least one host name", unique=True)
gateway_selector = Entries(
    key=label_key, value=label_value, empty_reason="must select the ingress gateway pods, e.g. {istio: ingressgateway}"
)
pod_selector = Entries(key=label_key, value=label_value, empty_reason="must select the app's pods")


def problems(value: Any, rule: FieldRule) -> Iterator[tuple[str, Any, str]]:
    """(path below the field, offending value, reason) for each rule the value breaks; unknown values skipped."""
    if unresolved(value):
        return
    if isinstance(rule, Each):
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            yield "", value, "must be a list"
            return
        if not value and rule.empty_reason is not None:
            yield "", list(value), rule.empty_reason
        seen: set[Any] = set()
        for index, item in enumerate(value):
            found = [(f"[{index}]{below}", bad, reason) for below, bad, reason in problems(item, rule.item)]
            yield from found
            if not found and rule.unique and not unresolved(item):
                if item in seen:
                    yield f"[{index}]", item, "is listed twice"
                seen.add(item)
    elif isinstance(rule, Entries):
        if not isinstance(value, Mapping):
            yield "", value, "must be a mapping"
            return
        if not value and rule.empty_reason is not None:
            yield "", dict(value), rule.empty_reason
        for key, item in value.items():
            if rule.key is not None and (reason := rule.key(key)) is not None:
                yield f"[{key!r}]", key, reason
            elif rule.value is not None:
                yield from ((f"[{key!r}]{below}", bad, why) for below, bad, why in problems(item, rule.value))
    elif (reason := rule(value)) is not None:
        yield "", value, reason


def check_fields(args: Any, rules: Mapping[str, FieldRule]) -> None:
    """Raise ArgsError on the first field of `args` that breaks its rule."""
    owner = type(args).__name__
    for name, rule in rules.items():
        for below, value, reason in problems(getattr(args, name), rule):
            raise ArgsError(f"{owner}.{name}{below}", value, reason)


def refuse(owner: Any, field: str, value: Any, reason: str | None) -> None:
    """Raise ArgsError naming `Class.field` when a cross-field rule gave a reason."""
    if reason is not None:
        raise ArgsError(f"{type(owner).__name__}.{field}", value, reason)


def is_instance(kind: type, spelled: str) -> Rule:
    def rule(value: Any) -> str | None:
        return None if isinstance(value, kind) else f"must be a {spelled}"

    return rule


def optional_instance(kind: type, spelled: str) -> Rule:
    return optional(is_instance(kind, spelled))


# --- rules across fields ------------------------------------------------------------------------


def more_than_limit(request: str, limit: str) -> str | None:
    """Why a request is refused beside its limit (Kubernetes refuses such a pod), or None."""
    if _quantity(request) is None and _quantity(limit) is None and parse_quantity(request) > parse_quantity(limit):
        return f"must not be more than the limit {limit}"
    return None


def min_above_max(minimum: int, maximum: int) -> str | None:
    return f"must not be more than max {maximum}" if minimum > maximum else None


def sticky_like_cookie(sticky_cookie: str, canary_cookie: str | None) -> str | None:
    if canary_cookie is not None and canary_cookie.partition("=")[0] == sticky_cookie:
        return f"must differ from the name of the canary cookie {canary_cookie!r}"
    return None


PATH_ONLY_FOR_HTTP = "applies to http probes only; remove it or use type http"
RUN_AS_USER_NOT_APPLICABLE = "does not apply to this security profile (it runs as the image's user)"


def repeated(names_in_order: Sequence[str]) -> tuple[int, str] | None:
    """(index, reason) of the first name listed before, or None."""
    first: dict[str, int] = {}
    for index, name in enumerate(names_in_order):
        if name in first:
            return index, f"must not repeat the name of versions[{first[name]}]"
        first[name] = index
    return None


def unknown_version(version: str, known: Sequence[str], among: str = "versions") -> str | None:
    return None if version in known else f"must name one of the {among} {list(known)}"


def canary_is_stable(canary: str, stable: str) -> str | None:
    return "must differ from the stable version (it already gets the traffic)" if canary == stable else None


def owned_namespace(namespace: str, gateway_namespace: str, create_namespace: bool) -> str | None:
    """Why the release may not deploy into (or, creating it, own) `namespace`, or None."""
    if namespace == gateway_namespace:
        return "is the ingress gateway's namespace; deploy the release into a namespace of its own"
    if namespace == "default" and create_namespace:
        return (
            "would be created and owned by the release, and deleted with it; deploy into it without creating it, "
            "or into a namespace of its own"
        )
    return None


def refuse_unknown_versions(args: Any, known: Sequence[str], stable: str, canary: Any, listed_in: str) -> None:
    """The stable and the canary version must be among `known`, and differ (Args of routing rules)."""
    refuse(args, "stable", stable, unknown_version(stable, known, listed_in))
    if canary is not None:
        refuse(args, "canary.version", canary.version, unknown_version(canary.version, known, listed_in))
        refuse(args, "canary.version", canary.version, canary_is_stable(canary.version, stable))


MESH_NEEDS_ISTIO = "needs the istio routing API (in-mesh routing with the Gateway API, GAMMA, is not supported)"


def rules_of(args_class: type) -> Mapping[str, FieldRule]:
    """The per-field rules an Args class declares (`FIELD_RULES`)."""
    declared: Mapping[str, FieldRule] = getattr(args_class, "FIELD_RULES", {})
    return declared
