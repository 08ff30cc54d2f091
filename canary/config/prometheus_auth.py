"""The `rollout.prometheusAuth` key: how `canary rollout` authenticates to a Prometheus that wants it
(Grafana Cloud, Amazon's and Google's managed Prometheus, Thanos or Mimir behind a proxy).

No credential is ever written here in plain text: a bearer token comes from an environment
variable or a file (a mounted secret, a projected service-account token), a basic-auth password
from an environment variable or from a Pulumi secret of the stack (`pulumi config set --secret`),
read decrypted through the Automation API when the rollout starts. What is read is checked then,
not here: the stack file holds only where to find it.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import pydantic
from pydantic import Field, StrictStr

from canary.config.value_types import ConfigModel, HeaderValue, NestedKeyError, checked
from canary.support.redact import HIDDEN

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A config key of another namespace than the project's (`rollout:prometheusPassword`): the
# project's own keys are the program's, which refuses secrets among them.
_SECRET_KEY = re.compile(r"^[A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+$")
# An HTTP header name as RFC 9110 spells a token.
_HEADER = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def _env_name(value: str) -> str | None:
    return None if _ENV_NAME.match(value) else "must be an environment variable's name such as PROMETHEUS_TOKEN"


def _path(value: str) -> str | None:
    return "must be a file's path" if not value.strip() else None


def _secret_key(value: str) -> str | None:
    if not _SECRET_KEY.match(value):
        return "must be a stack config key with its namespace, such as rollout:prometheusPassword"
    if value.startswith("istio-canary:"):
        return "must be in a namespace of its own, such as rollout:prometheusPassword (the program refuses secrets)"
    return None


def _username(value: str) -> str | None:
    if not value or ":" in value:
        return "must be a user name without ':'"
    return None


def _header(value: str) -> str | None:
    if not _HEADER.match(value):
        return "must be an HTTP header name"
    if value.lower() == "authorization":
        return "is set by bearerTokenEnv, bearerTokenFile or basicAuth, never in plain text"
    return None


EnvName = Annotated[StrictStr, checked(_env_name)]
FilePath = Annotated[StrictStr, checked(_path)]


# Keys a credential in plain text would go under: refused by name, the value never echoed.
_PLAIN_CREDENTIALS = frozenset({"bearerToken", "token", "password", "apiKey"})


def _refuse_plain_credentials(value: Any) -> Any:
    if isinstance(value, dict):
        for key in value:
            if key in _PLAIN_CREDENTIALS:
                raise NestedKeyError(
                    key,
                    HIDDEN,
                    "a credential is never a value of this key, in plain text or as a secret: name an "
                    "environment variable or a file (bearerTokenEnv, bearerTokenFile, basicAuth.passwordEnv), "
                    "or a secret key of its own (basicAuth.passwordSecret: rollout:prometheusPassword)",
                )
    return value


class BasicAuthSettings(ConfigModel):
    """A user name, and where its password is."""

    _plain = pydantic.model_validator(mode="before")(_refuse_plain_credentials)

    username: Annotated[StrictStr, checked(_username)] = Field(description="The user name (a tenant or instance ID).")
    password_env: EnvName | None = Field(
        default=None, alias="passwordEnv", description="The environment variable that holds the password."
    )
    password_secret: Annotated[StrictStr, checked(_secret_key)] | None = Field(
        default=None,
        alias="passwordSecret",
        description="The stack's secret config key that holds it, in a namespace other than the project's "
        "(`pulumi config set --secret rollout:prometheusPassword`); read through the Pulumi CLI.",
    )

    @pydantic.model_validator(mode="after")
    def _one_password(self) -> BasicAuthSettings:
        if (self.password_env is None) == (self.password_secret is None):
            raise NestedKeyError("passwordEnv", self.password_env, "give exactly one of passwordEnv and passwordSecret")
        return self


class PrometheusAuthSettings(ConfigModel):
    """How the rollout authenticates to Prometheus; every credential read from outside the stack file."""

    _plain = pydantic.model_validator(mode="before")(_refuse_plain_credentials)

    bearer_token_env: EnvName | None = Field(
        default=None,
        alias="bearerTokenEnv",
        description="The environment variable that holds a bearer token (`Authorization: Bearer ...`).",
    )
    bearer_token_file: FilePath | None = Field(
        default=None,
        alias="bearerTokenFile",
        description="A file that holds a bearer token (read at the start; surrounding whitespace dropped).",
    )
    basic_auth: BasicAuthSettings | None = Field(
        default=None,
        alias="basicAuth",
        description="HTTP basic auth: `username`, and `passwordEnv` or `passwordSecret`.",
    )
    headers: dict[Annotated[StrictStr, checked(_header)], HeaderValue] = Field(
        default_factory=dict,
        description="Extra headers sent with every query, such as a tenant's `X-Scope-OrgID` (not for credentials: "
        "they are in plain text here).",
    )
    ca_file: FilePath | None = Field(
        default=None,
        alias="caFile",
        description="A PEM bundle of the CAs to verify Prometheus' certificate with, instead of the system's.",
    )

    @pydantic.model_validator(mode="after")
    def _one_credential(self) -> PrometheusAuthSettings:
        given = [
            name
            for name, value in (
                ("bearerTokenEnv", self.bearer_token_env),
                ("bearerTokenFile", self.bearer_token_file),
                ("basicAuth", self.basic_auth),
            )
            if value is not None
        ]
        if len(given) > 1:
            raise NestedKeyError(
                given[1], getattr(self, _FIELD[given[1]]), f"give one credential, not {' and '.join(given)}"
            )
        return self


_FIELD = {"bearerTokenEnv": "bearer_token_env", "bearerTokenFile": "bearer_token_file", "basicAuth": "basic_auth"}
