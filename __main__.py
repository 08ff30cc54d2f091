"""istio-canary: a canary release on Kubernetes with Istio, driven by stack config."""

import pulumi

from canary.program import release_from_config

for key, value in release_from_config().items():
    pulumi.export(key, value)
