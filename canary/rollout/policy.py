"""How a rollout proceeds: re-exported from `canary.policy`, where every default lives."""

from __future__ import annotations

from canary.policy import Limits, Policy, parse_duration, steps_problem, url_problem

__all__ = ["Limits", "Policy", "parse_duration", "steps_problem", "url_problem"]
