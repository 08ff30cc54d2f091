"""The VirtualService reading by spec and headers, for callers written before `canary.router`.

Each function asks `canary.router.IstioRouter` the same question; new code uses the router.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from canary.router import IstioRouter, UnmodelledSpecError

__all__ = ["UnmodelledSpecError", "answer_headers_for", "mirror_for", "route_for", "split_for"]


def route_for(spec: Mapping[str, Any], headers: Mapping[str, str]) -> Mapping[str, Any]:
    """The HTTP route that takes a request with these headers (names lower-case)."""
    return IstioRouter(spec).rule_for(headers)


def split_for(spec: Mapping[str, Any], headers: Mapping[str, str]) -> dict[str, int]:
    """Percent of such requests per subset."""
    return IstioRouter(spec).split(headers)


def answer_headers_for(
    spec: Mapping[str, Any], headers: Mapping[str, str], subset: str, upstream: Sequence[tuple[str, str]] = ()
) -> list[tuple[str, str]]:
    """The headers of the answer such a request gets from `subset`, whose app answered `upstream`."""
    return IstioRouter(spec).answer_headers(headers, subset, upstream)


def mirror_for(spec: Mapping[str, Any], headers: Mapping[str, str]) -> tuple[str, float] | None:
    """(subset, percent) of such requests also sent there, answers discarded; None for no mirror."""
    return IstioRouter(spec).mirror(headers)
