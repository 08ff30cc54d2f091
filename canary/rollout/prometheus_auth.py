"""Credentials for Prometheus, from the environment only, so that CI keeps them as its secrets.

`CANARY_PROMETHEUS_TOKEN` is sent as `Authorization: Bearer <token>` (a managed Prometheus, or one
behind an authenticating proxy, takes a bearer token). It is never printed, and never read from
the stack file or a flag, where it would land in Git or in a shell's history.
"""

from __future__ import annotations

import os

TOKEN_VARIABLE = "CANARY_PROMETHEUS_TOKEN"


def headers() -> dict[str, str]:
    """The headers every request to Prometheus carries."""
    token = os.environ.get(TOKEN_VARIABLE, "").strip()
    return {"Authorization": f"Bearer {token}"} if token else {}
