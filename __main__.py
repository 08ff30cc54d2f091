"""istio-canary: a canary release on Kubernetes with Istio, driven by stack config."""

import pulumi

from canary.program import canary_stack

for key, value in canary_stack().items():
    pulumi.export(key, value)
