"""Syntax rules for the names the stack config supplies, as Kubernetes, Istio and RFC 6265 define them.

Each checker returns None for a good value or a short reason for a bad one, so the settings
module can phrase one error per key that names both the key and the value.
"""

from __future__ import annotations

import ipaddress
import re

from canary.checkov_ids import KUBERNETES_CHECK_IDS

# RFC 1123 label, as Kubernetes validates namespace names, label-style names and subset names.
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# RFC 1035 label: what Kubernetes requires of Service names (must start with a letter).
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
# RFC 7230 token: the characters an HTTP header name may use. Istio wants header names lower-case.
_HEADER_NAME = re.compile(r"^[a-z0-9!#$%&'*+.^_`|~-]+$")
# RFC 6265 section 4.1.1: cookie-name is a token; cookie-value is cookie-octets, optionally quoted.
_COOKIE_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_COOKIE_OCTETS = r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]+"
_COOKIE_VALUE = re.compile(rf'^(?:{_COOKIE_OCTETS}|"{_COOKIE_OCTETS}")$')
# Kubernetes label keys: optional DNS subdomain prefix and a name of up to 63 characters.
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
# Container image reference: [registry[:port]/]path[:tag][@algorithm:digest], lower-case path.
_IMAGE = re.compile(
    r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
    r"(?:@[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,})?$"
)


def dns1123_label(value: str, max_length: int = 63) -> str | None:
    if len(value) > max_length:
        return f"must be at most {max_length} characters"
    if not _DNS1123_LABEL.match(value):
        return "must be lower-case letters, digits and '-', starting and ending with a letter or digit"
    return None


def dns1035_label(value: str, max_length: int = 63) -> str | None:
    if len(value) > max_length:
        return f"must be at most {max_length} characters"
    if not _DNS1035_LABEL.match(value):
        return "must be lower-case letters, digits and '-', starting with a letter and ending with a letter or digit"
    return None


def dns1123_subdomain(value: str) -> str | None:
    if len(value) > 253:
        return "must be at most 253 characters"
    for label in value.split("."):
        if dns1123_label(label) is not None:
            return "must be dot-separated lower-case DNS labels (letters, digits, '-')"
    return None


def host_name(value: str) -> str | None:
    """An external host as a Gateway and VirtualService accept it: a DNS name, or `*.` + a DNS name."""
    name = value[2:] if value.startswith("*.") else value
    if "*" in name:
        return "may only use a wildcard as a leading '*.'"
    if dns1123_subdomain(name) is not None:
        return "must be a lower-case DNS name such as app.example.com (a leading '*.' is allowed)"
    return None


def dns_name_or_ip(value: str) -> str | None:
    try:
        ipaddress.ip_address(value)
        return None
    except ValueError:
        pass
    if dns1123_subdomain(value) is not None:
        return "must be a DNS name or an IP address"
    return None


def header_name(value: str) -> str | None:
    if not _HEADER_NAME.match(value):
        return "must be a lower-case HTTP header name (letters, digits and !#$%&'*+.^_`|~-)"
    if value in ("host", "cookie"):
        return f"cannot be '{value}' (match hosts with `hosts`, cookies with `canary.cookie`)"
    return None


def cookie_name(value: str) -> str | None:
    """A cookie-name as RFC 6265 allows it (a token)."""
    if not _COOKIE_NAME.match(value):
        return "must be a cookie name: letters, digits and !#$%&'*+.^_`|~- (RFC 6265 token)"
    return None


def cookie_pair(value: str) -> str | None:
    """`name=value` where both halves are what RFC 6265 lets a browser send."""
    name, sep, cookie_value = value.partition("=")
    if not sep or not name or not cookie_value:
        return "must be name=value, e.g. version=v2"
    if not _COOKIE_NAME.match(name):
        return f"has a cookie name {name!r} with characters a cookie name cannot carry (RFC 6265 token)"
    if not _COOKIE_VALUE.match(cookie_value):
        return (
            f"has a cookie value {cookie_value!r} with characters a cookie cannot carry "
            "(no spaces, commas, semicolons, backslashes or inner quotes)"
        )
    return None


def label_key(value: str) -> str | None:
    prefix, sep, name = value.rpartition("/")
    if sep and dns1123_subdomain(prefix) is not None:
        return "must have a DNS subdomain prefix before '/'"
    if len(name) > 63 or not _LABEL_NAME.match(name):
        return "must be a Kubernetes label key (alphanumerics, '-', '_', '.', at most 63 characters)"
    return None


def label_value(value: str) -> str | None:
    if value == "":
        return None
    if len(value) > 63 or not _LABEL_NAME.match(value):
        return "must be a Kubernetes label value (alphanumerics, '-', '_', '.', at most 63 characters)"
    return None


def image_reference(value: str) -> str | None:
    if not _IMAGE.match(value):
        return "must be an image reference such as registry.example.com/team/app:1.2 or app@sha256:<digest>"
    return None


_CHECKOV_ID = re.compile(r"^CKV2?_K8S_[0-9]+$")


def checkov_check_id(value: str) -> str | None:
    if not _CHECKOV_ID.match(value):
        return "must be a checkov Kubernetes check id such as CKV_K8S_43"
    if value not in KUBERNETES_CHECK_IDS:
        return "is not a check checkov knows for Kubernetes (see `checkov --list --framework kubernetes`)"
    return None
