"""Syntax rules for the names the stack config supplies, as Kubernetes, Istio and RFC 6265 define them.

Each checker returns None for a good value or a short reason for a bad one, so the settings
module can phrase one error per key that names both the key and the value. Every pattern is
applied with `fullmatch`: `re.match` with `^...$` takes `"canary\n"`, since `$` also matches
before a final newline.
"""

from __future__ import annotations

import ipaddress
import re

from canary.plan.rules.checkov_ids import KUBERNETES_CHECK_IDS

# RFC 1123 label, as Kubernetes validates namespace names, label-style names and subset names.
_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
# RFC 1035 label: what Kubernetes requires of Service names (must start with a letter).
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
# RFC 7230 token: the characters an HTTP header name may use. Istio wants header names lower-case.
_HEADER_NAME = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]+")
# RFC 6265 section 4.1.1: cookie-name is a token; cookie-value is cookie-octets, optionally quoted.
_COOKIE_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")
_COOKIE_OCTETS = r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]+"
_COOKIE_VALUE = re.compile(rf'(?:{_COOKIE_OCTETS}|"{_COOKIE_OCTETS}")')
# Kubernetes label keys: optional DNS subdomain prefix and a name of up to 63 characters.
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
# Container image references, by the distribution reference grammar (distribution/reference's
# regexp.go): [host[:port]/]path[:tag][@algorithm:hex]. The path's components are lower-case.
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_REGISTRY = re.compile(rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?")
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
# The name (registry and path) of a reference is at most 255 characters.
_MAX_IMAGE_NAME = 255
_IMAGE_EXAMPLE = "registry.example.com/team/app:1.2"


def dns1123_label(value: str, max_length: int = 63) -> str | None:
    if len(value) > max_length:
        return f"must be at most {max_length} characters"
    if not _DNS1123_LABEL.fullmatch(value):
        return "must be lower-case letters, digits and '-', starting and ending with a letter or digit"
    return None


def dns1035_label(value: str, max_length: int = 63) -> str | None:
    if len(value) > max_length:
        return f"must be at most {max_length} characters"
    if not _DNS1035_LABEL.fullmatch(value):
        return "must be lower-case letters, digits and '-', starting with a letter and ending with a letter or digit"
    return None


MAX_DNS_NAME_LENGTH = 253


def dns1123_subdomain(value: str) -> str | None:
    if len(value) > MAX_DNS_NAME_LENGTH:
        return f"must be at most {MAX_DNS_NAME_LENGTH} characters"
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
    if not _HEADER_NAME.fullmatch(value):
        return "must be a lower-case HTTP header name (letters, digits and !#$%&'*+.^_`|~-)"
    if value in ("host", "cookie"):
        return f"cannot be '{value}' (match hosts with `hosts`, cookies with `canary.cookie`)"
    return None


# Response headers the app (or HTTP itself) sets: the mesh setting one of them on every answer
# would overwrite the app's own cookies, types, redirects and caching.
_APP_OWNED_HEADERS = frozenset(
    {
        "accept-ranges",
        "age",
        "allow",
        "cache-control",
        "connection",
        "date",
        "etag",
        "expires",
        "keep-alive",
        "last-modified",
        "link",
        "location",
        "pragma",
        "proxy-authenticate",
        "refresh",
        "retry-after",
        "server",
        "set-cookie",
        "set-cookie2",
        "strict-transport-security",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "vary",
        "www-authenticate",
    }
)
_APP_OWNED_PREFIXES = ("content-", "access-control-", "cross-origin-")


def response_header_name(value: str) -> str | None:
    """A header the mesh may set on every answer: a header name the app does not set itself."""
    if (reason := header_name(value)) is not None:
        return reason
    if value in _APP_OWNED_HEADERS or value.startswith(_APP_OWNED_PREFIXES):
        return "is a header the app's own answers carry; name one of its own, such as x-version"
    return None


def cookie_name(value: str) -> str | None:
    """A cookie-name as RFC 6265 allows it (a token)."""
    if not _COOKIE_NAME.fullmatch(value):
        return "must be a cookie name: letters, digits and !#$%&'*+.^_`|~- (RFC 6265 token)"
    return None


def cookie_pair(value: str) -> str | None:
    """`name=value` where both halves are what RFC 6265 lets a browser send."""
    name, sep, cookie_value = value.partition("=")
    if not sep or not name or not cookie_value:
        return "must be name=value, e.g. version=v2"
    if not _COOKIE_NAME.fullmatch(name):
        return f"has a cookie name {name!r} with characters a cookie name cannot carry (RFC 6265 token)"
    if not _COOKIE_VALUE.fullmatch(cookie_value):
        return (
            f"has a cookie value {cookie_value!r} with characters a cookie cannot carry "
            "(no spaces, commas, semicolons, backslashes or inner quotes)"
        )
    return None


def label_key(value: str) -> str | None:
    prefix, sep, name = value.rpartition("/")
    if sep and dns1123_subdomain(prefix) is not None:
        return "must have a DNS subdomain prefix before '/'"
    if len(name) > 63 or not _LABEL_NAME.fullmatch(name):
        return "must be a Kubernetes label key (alphanumerics, '-', '_', '.', at most 63 characters)"
    return None


def label_value(value: str) -> str | None:
    if value == "":
        return None
    if len(value) > 63 or not _LABEL_NAME.fullmatch(value):
        return "must be a Kubernetes label value (alphanumerics, '-', '_', '.', at most 63 characters)"
    return None


def _split_image(value: str) -> tuple[str, str, str | None, str | None]:
    """(registry, path, tag, digest) of a reference, without checking them; registry "" for none."""
    name, _, digest = value.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = None
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
    first, sep, rest = name.partition("/")
    # As the container runtimes read it: the first component is a registry only when it looks like a
    # host (a dot, a port, or `localhost`); otherwise it is part of the path, which is lower-case.
    if sep and (any(ch in first for ch in ".:[") or first == "localhost"):
        return first, rest, tag, digest if "@" in value else None
    return "", name, tag, digest if "@" in value else None


def image_reference(value: str) -> str | None:
    registry, path, tag, digest = _split_image(value)
    components = path.split("/")
    if (
        (registry and not _REGISTRY.fullmatch(registry))
        or not all(_PATH_COMPONENT.fullmatch(component) for component in components)
        or (tag is not None and not _TAG.fullmatch(tag))
        or (digest is not None and not _DIGEST.fullmatch(digest))
    ):
        return f"must be an image reference [host[:port]/]lower-case/path[:tag][@digest], such as {_IMAGE_EXAMPLE}"
    if len(registry) + len(path) + (1 if registry else 0) > _MAX_IMAGE_NAME:
        return f"must have a name (registry and path) of at most {_MAX_IMAGE_NAME} characters"
    return None


def image_without_tag_or_digest(value: str) -> bool:
    """A valid reference that names neither a tag nor a digest: the runtime pulls `:latest`."""
    _, _, tag, digest = _split_image(value)
    return tag is None and digest is None


_CHECKOV_ID = re.compile(r"CKV2?_K8S_[0-9]+")


def checkov_check_id(value: str) -> str | None:
    if not _CHECKOV_ID.fullmatch(value):
        return "must be a checkov Kubernetes check id such as CKV_K8S_43"
    if value not in KUBERNETES_CHECK_IDS:
        return "is not a check checkov knows for Kubernetes (see `checkov --list --framework kubernetes`)"
    return None
