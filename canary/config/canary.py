"""The `canary:` key of the stack config: which requests the canary version receives, and the sticky cookie."""

from __future__ import annotations

from typing import Annotated, Any

import pydantic
from pydantic import Field, StrictInt, StrictStr

from canary.config.value_types import (
    ConfigModel,
    CookiePair,
    HeaderName,
    HeaderValue,
    NestedKeyError,
    Percent,
    VersionName,
    args_default,
    args_doc,
    checked,
    fail,
)
from canary.plan.canary_rules import Canary, Sticky
from canary.plan.rules import checks


def _share(value: Any) -> Any:
    # Before pydantic's float parsing, which would take YAML's true and "5" for numbers.
    if (reason := checks.mirror_percent(value)) is not None:
        fail(reason)
    return value


class StickySettings(ConfigModel):
    """A cookie that keeps each client of the weighted route on the version that first answered it."""

    cookie: Annotated[StrictStr, checked(checks.cookie_name)] = Field(
        description="The cookie's name (an RFC 6265 token, not `canary.cookie`'s name); its value names the version."
    )
    max_age: Annotated[StrictInt, checked(checks.cookie_max_age)] = Field(
        default=args_default(Sticky, "max_age"),
        alias="maxAge",
        description=args_doc(Sticky, "max_age"),
    )


class CanarySettings(ConfigModel):
    """Which requests the canary version receives."""

    version: VersionName = Field(
        description="The version the selected requests go to; not the stable version (it already gets the traffic)."
    )
    cookie: CookiePair | None = Field(
        default=None,
        description="`name=value`: a request carrying this cookie (anywhere in its Cookie header) goes to `version`.",
    )
    headers: dict[HeaderName, HeaderValue] | None = Field(
        default=None,
        description="`{header: value}`, lower-case names, exact values: a request carrying all of them goes to "
        "`version`. An alternative to `cookie`: either one selects a request. Not empty.",
    )
    weight: Percent = Field(
        default=args_default(Canary, "weight"),
        description=args_doc(Canary, "weight"),
    )
    sticky: StickySettings | None = Field(
        default=None,
        description="While 0 < `weight` < 100, every answer of the weighted route sets this cookie to the version "
        "that answered, and requests carrying it go back to that version: a browser stays on one version. At "
        "weight 0 or 100 no client is pinned.",
    )
    mirror: Annotated[float, pydantic.BeforeValidator(_share)] = Field(
        default=args_default(Canary, "mirror"),
        description=args_doc(Canary, "mirror"),
    )

    @pydantic.model_validator(mode="after")
    def _sticky_cookie_differs(self) -> CanarySettings:
        if self.sticky is not None and (reason := checks.sticky_like_cookie(self.sticky.cookie, self.cookie)):
            raise NestedKeyError("sticky.cookie", self.sticky.cookie, reason)
        return self

    @pydantic.field_validator("headers")
    @classmethod
    def _headers_not_empty(cls, headers: dict[str, str] | None) -> dict[str, str] | None:
        # About the stack file: `headers: {}` reads as a match on nothing, which would select every
        # request; the key must be left out instead. (The Args' empty default means no header match.)
        if headers is not None and not headers:
            raise ValueError("must name at least one header (an empty match would send every request to the canary)")
        return headers
