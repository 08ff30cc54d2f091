"""Stack config -> typed, validated settings: the contract users write in `Pulumi.<stack>.yaml`.

Everything the program reads from config is read through here, once, and validated whole before
any resource is registered, so that a bad stack changes nothing. The package's rooms:

- `value_types`: what a value must hold, checked by the component Args' own rules (`canary.plan.rules.checks`)
- `versions`, `canary`, `network`, `rollout`: the models of the nested keys; `settings`: the whole
- `parse`: raw strings -> `StackSettings`; `messages`: pydantic's errors as one line per key
- `runtime`: the running program's config (the one use of the SDK's private config map)
- `files`: a stack's config read from `Pulumi.yaml` and `Pulumi.<stack>.yaml`, as the CLI passes it

It imports nothing from `canary.rollout` or `canary.traffic` (a test holds it to that): the
rollout's defaults come from `canary.policy`, below both.
"""

from __future__ import annotations

from canary.config.canary import CanarySettings, StickySettings
from canary.config.messages import ConfigError, refuse_secrets
from canary.config.network import GatewaySettings, RoutingSettings, SecuritySettings, TlsSettings
from canary.config.parse import parse_settings
from canary.config.rollout import RolloutSettings
from canary.config.runtime import load_settings
from canary.config.settings import ISTIO_API_VERSIONS, PROJECT, StackSettings
from canary.config.versions import (
    AutoscalingSettings,
    ComputeSettings,
    ProbeSettings,
    ResourceSettings,
    VersionSettings,
)

__all__ = [
    "ISTIO_API_VERSIONS",
    "PROJECT",
    "AutoscalingSettings",
    "CanarySettings",
    "ComputeSettings",
    "ConfigError",
    "GatewaySettings",
    "ProbeSettings",
    "ResourceSettings",
    "RolloutSettings",
    "RoutingSettings",
    "SecuritySettings",
    "StackSettings",
    "StickySettings",
    "TlsSettings",
    "VersionSettings",
    "load_settings",
    "parse_settings",
    "refuse_secrets",
]
