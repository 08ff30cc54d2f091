"""What the pods run as and what the app Service exposes: the `serviceAccount:` and `service:` keys."""

from __future__ import annotations

from typing import Any

import pydantic
from pydantic import Field, StrictBool

from canary.config.value_types import ConfigModel, LabelKey, NestedKeyError, SecretName, args_default
from canary.plan.release import CanaryReleaseArgs
from canary.plan.service import RoutedProtocol, service_port_problems
from canary.plan.service_account import ANNOTATIONS_NEED_CREATION, ServiceAccount


class ServiceAccountSettings(ConfigModel):
    """The ServiceAccount every version's pods run as."""

    name: SecretName = Field(description="The ServiceAccount's name (a DNS subdomain).")
    annotations: dict[LabelKey, str] = Field(
        default_factory=dict,
        description="Annotations of the ServiceAccount the release creates, for cloud workload identity "
        "(`eks.amazonaws.com/role-arn`, `iam.gke.io/gcp-service-account`, ...).",
    )
    existing: StrictBool = Field(
        default=args_default(ServiceAccount, "existing"),
        description="`true`: the ServiceAccount exists already; the release neither creates it nor, on "
        "`destroy`, deletes it. `false`: created with the release and deleted with it.",
    )

    @pydantic.model_validator(mode="after")
    def _annotations_only_when_created(self) -> ServiceAccountSettings:
        if self.existing and self.annotations:
            raise NestedKeyError("annotations", self.annotations, ANNOTATIONS_NEED_CREATION)
        return self


class ServiceSettings(ConfigModel):
    """The app Service `<app>-service`: the routed port, and any others."""

    protocol: RoutedProtocol = Field(
        default=args_default(CanaryReleaseArgs, "protocol"),
        description="What the routed port (`port`) speaks, so that Istio treats it right: `http`, `http2` or "
        "`grpc` (the Service port is named so). Not `http2` or `grpc` with `routing.api: gateway-api`.",
    )
    ports: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Ports the Service exposes beside the routed one (a metrics port, a gRPC port), as "
        "Kubernetes' `ServicePort` spells them: `name` and `port` each, `targetPort` if it differs. Not routed "
        "by the release.",
    )

    def port_problems(self, routed_port: int) -> list[tuple[str, Any, str]]:
        return list(service_port_problems(self.ports, routed_port, self.protocol))
