"""How a routing object sends requests: one `Router` per routing API, read off the object itself.

Writing has one plan per API (`canary.plan.istio_routing` for Istio, `canary.plan.gateway_api`);
reading has one router per API here, behind one protocol (`Router`), so the program's `routes`
output, what the routing object waits for, and the test data planes all ask the same questions
of the spec that is applied, whichever API spells it.
"""

from __future__ import annotations

from canary.router.gateway_api import GatewayApiRouter
from canary.router.interface import Router, UnmodelledSpecError
from canary.router.istio import IstioRouter

__all__ = ["GatewayApiRouter", "IstioRouter", "Router", "UnmodelledSpecError"]
