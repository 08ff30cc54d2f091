"""One Istio object, whichever API version declares it.

The Kubernetes provider's resource type names the API version
(`kubernetes:networking.istio.io/v1alpha3:VirtualService`), so switching `istioApiVersion` on a
live stack would read to the engine as a new object plus a deleted one of the same name: a
create that fails with AlreadyExists, or on older providers an outage between the two. Aliasing
the other versions' types makes it one object, updated in place.
"""

from __future__ import annotations

from collections.abc import Iterable

import pulumi


def same_object_aliases(api_version: str, kind: str, served: Iterable[str]) -> list[pulumi.Alias]:
    """Aliases naming `kind` under every other API version in `served`."""
    return [pulumi.Alias(type_=f"kubernetes:{other}:{kind}") for other in dict.fromkeys(served) if other != api_version]
