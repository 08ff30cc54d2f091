"""The running Pulumi program's stack config, read whole from the SDK's runtime.

`pulumi.Config` only answers for a key you name; it cannot list the keys a stack sets. Listing
them is what turns a misspelt top-level key (`istio-canary:wieght`) into an error instead of a
key silently ignored, and only the runtime's config map (`pulumi.runtime.config.CONFIG`, not a
public API) holds them all. This module is the one place that touches it: if the SDK changes it,
this is the file to mend.
"""

from __future__ import annotations

from canary.config.messages import MUST_BE_SECRET, SECRET_KEYS, ConfigError, refuse_secrets
from canary.config.parse import parse_settings
from canary.config.settings import PROJECT, StackSettings


def load_settings() -> StackSettings:
    """Read the current stack's config for this project and validate it whole."""
    # Imported here: `render` and `rollout`, which read stack files, do not pay for importing the SDK.
    from pulumi.runtime import config as runtime_config

    prefix = f"{PROJECT}:"
    every_key = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    ours = sorted(key for key in every_key if key.startswith(prefix))
    # The SDK hands secrets over decrypted; those of the keys that may be secrets are validated as any other.
    secret = [
        key[len(prefix) :]
        for key in ours
        if runtime_config.is_config_secret(key) and key[len(prefix) :] not in SECRET_KEYS
    ]
    if secret:
        raise ConfigError(refuse_secrets(secret))
    values = {key[len(prefix) :]: runtime_config.get_config(key) for key in ours}
    for key in MUST_BE_SECRET:
        # `pulumi config set --path` without `--secret`: the value sits in the stack file in plain text.
        if not runtime_config.is_config_secret(prefix + key) and values.get(key) not in (None, "", "{}"):
            raise ConfigError(
                f"{key}: stored in plain text; store each value as a secret: "
                f"pulumi config set --secret --path '{key}.NAME' VALUE"
            )
    return parse_settings(values)
