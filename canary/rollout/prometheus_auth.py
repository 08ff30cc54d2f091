"""`rollout.prometheusAuth` made real when a rollout starts: the token read from its environment
variable or file, the password from its variable or the stack's secret, the CA bundle loaded.

Anything missing is one `AccessError` line naming the key and where it looked (never what it
read), exit 2 before anything changes. Without a credential here, `CANARY_PROMETHEUS_TOKEN` in the
environment is sent as a bearer token (`canary.rollout.prometheus.TOKEN_VARIABLE`), as CI keeps
its secrets.
"""

from __future__ import annotations

import base64
import os
import ssl
from collections.abc import Callable, Mapping
from pathlib import Path

from canary.config.prometheus_auth import PrometheusAuthSettings
from canary.rollout.prometheus import TOKEN_VARIABLE, PrometheusAccess

KEY = "rollout.prometheusAuth"
__all__ = ["TOKEN_VARIABLE", "AccessError", "prometheus_access", "uses_secret"]


class AccessError(Exception):
    """A credential or CA bundle named in `rollout.prometheusAuth` cannot be had; one line."""


SecretReader = Callable[[str], "tuple[str, bool] | None"]
"""A stack config key -> (its value decrypted, whether it is stored as a secret), None if unset."""


def _no_secrets(key: str) -> tuple[str, bool] | None:
    raise AccessError(f"{KEY}.basicAuth.passwordSecret: reading {key} needs the stack (the Pulumi CLI)")


def _from_env(field: str, name: str, environ: Mapping[str, str]) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise AccessError(f"{KEY}.{field}: environment variable {name} is not set or empty")
    return value


def _from_file(field: str, path: str) -> str:
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else "not UTF-8 text"
        raise AccessError(f"{KEY}.{field}: cannot read {path} ({reason})") from None
    if not value:
        raise AccessError(f"{KEY}.{field}: {path} is empty")
    return value


def _from_secret(key: str, read_secret: SecretReader) -> str:
    found = read_secret(key)
    field = f"{KEY}.basicAuth.passwordSecret"
    if found is None or not found[0]:
        raise AccessError(f"{field}: the stack has no value for {key} (pulumi config set --secret {key})")
    value, secret = found
    if not secret:
        raise AccessError(f"{field}: {key} is stored in plain text; store it with pulumi config set --secret {key}")
    return value


def prometheus_access(
    url: str,
    auth: PrometheusAuthSettings,
    *,
    environ: Mapping[str, str] | None = None,
    read_secret: SecretReader = _no_secrets,
) -> PrometheusAccess:
    """How to reach `url` as `auth` says; AccessError when a credential or the CA cannot be had."""
    environ = os.environ if environ is None else environ
    headers = dict(auth.headers)
    if auth.bearer_token_env is not None:
        headers["Authorization"] = "Bearer " + _from_env("bearerTokenEnv", auth.bearer_token_env, environ)
    elif auth.bearer_token_file is not None:
        headers["Authorization"] = "Bearer " + _from_file("bearerTokenFile", auth.bearer_token_file)
    elif auth.basic_auth is not None:
        basic = auth.basic_auth
        if basic.password_env is not None:
            password = _from_env("basicAuth.passwordEnv", basic.password_env, environ)
        else:
            assert basic.password_secret is not None  # the model asks for one of them
            password = _from_secret(basic.password_secret, read_secret)
        credentials = f"{basic.username}:{password}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode()
    if auth.ca_file is not None:
        try:
            ssl.create_default_context(cafile=auth.ca_file)
        except ssl.SSLError:  # an OSError too: caught first
            raise AccessError(f"{KEY}.caFile: {auth.ca_file} holds no PEM certificate") from None
        except OSError as err:
            raise AccessError(f"{KEY}.caFile: cannot read {auth.ca_file} ({err.strerror or err})") from None
    return PrometheusAccess.of(url, headers, auth.ca_file)


def uses_secret(auth: PrometheusAuthSettings) -> bool:
    return auth.basic_auth is not None and auth.basic_auth.password_secret is not None
