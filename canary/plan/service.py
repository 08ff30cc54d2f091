"""The app's Service: one stable name in front of every version's pods."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from canary.plan import checks
from canary.plan.backend import Backend, ComponentKind, Manifest, Ref, metadata

if TYPE_CHECKING:
    import pulumi


@dataclass(frozen=True)
class AppServiceArgs:
    namespace: pulumi.Input[str]
    app: str
    """The app's name; the Service is `<app>-service`."""
    selector: Mapping[str, pulumi.Input[str]]
    """The labels every version's pods share (`AppVersion.app_labels`)."""
    port: int = 80
    """Service port and target port, named `http`."""

    FIELD_RULES: ClassVar[Mapping[str, checks.FieldRule]] = {
        "namespace": checks.namespace_name,
        "app": checks.app_name,
        # An empty selector would select no pod at all (a Service without endpoints).
        "selector": checks.pod_selector,
        "port": checks.port,
    }

    def __post_init__(self) -> None:
        checks.check_fields(self, self.FIELD_RULES)


@dataclass(frozen=True)
class AppServiceParts:
    service: Ref

    @property
    def outputs(self) -> dict[str, Any]:
        return {"name": self.service.name}


def service_name(app: str) -> str:
    return f"{app}-service"


def service(namespace: pulumi.Input[str], app: str, selector: Mapping[str, pulumi.Input[str]], port: int) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(service_name(app), namespace),
        "spec": {
            "type": "ClusterIP",
            # Every version behind one Service: the DestinationRule's subsets split them by version.
            "selector": dict(selector),
            # Istio picks the protocol from the port name: `http` makes it route at layer 7.
            "ports": [{"name": "http", "port": port, "targetPort": port}],
        },
    }


def plan_app_service(backend: Backend, name: str, args: AppServiceArgs) -> AppServiceParts:
    return AppServiceParts(
        service=backend.object(f"{name}-service", service(args.namespace, args.app, args.selector, args.port))
    )


APP_SERVICE: ComponentKind[AppServiceArgs, AppServiceParts] = ComponentKind(
    type_token="canary:index:AppService", plan=plan_app_service, component="canary.components.service:AppService"
)
