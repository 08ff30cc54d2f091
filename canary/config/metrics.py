"""The `rollout.metrics` key: a team's own PromQL, judged beside the mesh's 5xx and p99.

Two kinds, as Flagger's and Argo's users write them:

- `ratio`: `bad` and `total` counters per version (checkout failures and checkouts), judged
  against stable by the same anytime-valid test as the 5xx rate, with a share of the alpha;
- `threshold`: one number for the canary (queue lag, saturation) that must stay within `min` and
  `max`, a bad poll holding the step and `failureLimit` consecutive ones failing it (Flagger's
  rule, not bounded by alpha).

Each query is a template: `{{ namespace }}`, `{{ app }}` and `{{ version }}` are filled in per
version (`canary.rollout.metric_queries` does it, escaping what it fills into a label matcher).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

import pydantic
from pydantic import Field, StrictInt, StrictStr

from canary.config.value_types import ConfigModel, NestedKeyError, Number, checked

PLACEHOLDERS = ("namespace", "app", "version")
PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_NAME = re.compile(r"^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?$")


def _name(value: str) -> str | None:
    return None if _NAME.match(value) else "must be a metric name: lower-case letters, digits, - and _, at most 63"


def promql_template_problem(value: str) -> str | None:
    """Why `value` cannot be a query template (an empty one, an unknown placeholder), or None."""
    if not value.strip():
        return "must be a PromQL query"
    for match in PLACEHOLDER.finditer(value):
        if match.group(1) not in PLACEHOLDERS:
            known = ", ".join(f"{{{{ {name} }}}}" for name in PLACEHOLDERS)
            return f"names {match.group(0)}, but only {known} are filled in"
    if "{{" in PLACEHOLDER.sub("", value):
        return "has a {{ with no matching }}"
    return None


# Functions that turn counters into rates or windowed increases: the analysis counts increases
# itself, per series, from the first poll (see canary.rollout.prometheus).
_NOT_A_COUNTER = re.compile(r"\b(rate|irate|increase|delta|idelta|deriv)\s*\(")


def _per_version(value: str) -> str | None:
    if (problem := promql_template_problem(value)) is not None:
        return problem
    if found := _NOT_A_COUNTER.search(value):
        return (
            f"must read counters as they stand, without {found.group(1)}(): the rollout counts their increases "
            "itself, from its first poll"
        )
    if not any(match.group(1) == "version" for match in PLACEHOLDER.finditer(value)):
        return "must select one version with {{ version }}: the canary's counts are compared with stable's"
    return None


Template = Annotated[StrictStr, checked(promql_template_problem)]
VersionTemplate = Annotated[StrictStr, checked(_per_version)]


class MetricSettings(ConfigModel):
    """One query of the team's own, judged at every poll."""

    name: Annotated[StrictStr, checked(_name)] = Field(description="Names the metric in the log and reports.")
    kind: Literal["ratio", "threshold"] = Field(description="`ratio` (bad/total against stable) or `threshold`.")
    bad: VersionTemplate | None = Field(
        default=None, description="ratio: a counter of the version's bad events, such as failed checkouts."
    )
    total: VersionTemplate | None = Field(default=None, description="ratio: a counter of all its events.")
    query: Template | None = Field(default=None, description="threshold: one number for the canary.")
    min: Number | None = Field(default=None, description="threshold: the least the number may be.")
    max: Number | None = Field(default=None, description="threshold: the most the number may be.")
    failure_limit: StrictInt | None = Field(
        default=None,
        alias="failureLimit",
        description="threshold: consecutive polls out of bounds that fail the step (default 1); fewer hold it.",
    )

    @pydantic.model_validator(mode="after")
    def _fields_of_its_kind(self) -> MetricSettings:
        mine = ("bad", "total") if self.kind == "ratio" else ("query",)
        theirs = ("query", "min", "max", "failureLimit") if self.kind == "ratio" else ("bad", "total")
        for key in mine:
            if getattr(self, key) is None:
                raise NestedKeyError(key, None, f"a {self.kind} metric needs it")
        for key in theirs:
            value = getattr(self, _FIELD.get(key, key))
            if value is not None:
                raise NestedKeyError(key, value, f"is not read by a {self.kind} metric")
        if self.kind == "threshold":
            if self.min is None and self.max is None:
                raise NestedKeyError("max", None, "a threshold metric needs min, max or both")
            if self.min is not None and self.max is not None and self.min > self.max:
                raise NestedKeyError("max", self.max, f"must be at least min ({self.min:g})")
            if self.failure_limit is not None and not 1 <= self.failure_limit <= 1000:
                raise NestedKeyError("failureLimit", self.failure_limit, "must be an integer from 1 to 1000")
        return self

    @property
    def consecutive_failures(self) -> int:
        return self.failure_limit if self.failure_limit is not None else 1


_FIELD = {"failureLimit": "failure_limit"}


def metrics_problem(metrics: list[MetricSettings]) -> NestedKeyError | None:
    """Two metrics of one name would be told apart nowhere (log, report, reasons)."""
    seen: set[str] = set()
    for index, metric in enumerate(metrics):
        if metric.name in seen:
            return NestedKeyError(f"[{index}].name", metric.name, "names another metric too")
        seen.add(metric.name)
    return None


Metrics = Annotated[list[MetricSettings], Field(max_length=20)]
