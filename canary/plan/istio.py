"""The Istio API versions the release can be written in."""

from __future__ import annotations

from typing import Literal, get_args

IstioApiVersion = Literal["networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3"]
"""Newest first: `v1` from Istio 1.22; `v1beta1` and `v1alpha3` for older meshes."""

NETWORKING_API_VERSIONS: tuple[IstioApiVersion, ...] = get_args(IstioApiVersion)

# Istio serves PeerAuthentication as security.istio.io/v1 from 1.22; meshes old enough to need
# networking v1beta1/v1alpha3 have security v1beta1.
SECURITY_API_VERSION = {
    "networking.istio.io/v1": "security.istio.io/v1",
    "networking.istio.io/v1beta1": "security.istio.io/v1beta1",
    "networking.istio.io/v1alpha3": "security.istio.io/v1beta1",
}

SERVED_VERSIONS = {
    "networking.istio.io": NETWORKING_API_VERSIONS,
    "security.istio.io": tuple(dict.fromkeys(SECURITY_API_VERSION.values())),
}
"""Per API group, every version one object may be declared in (see `canary.components.api_versions`)."""
