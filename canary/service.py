"""The app's Service: one stable name in front of every version's pods."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s


def service_name(app: str) -> str:
    return f"{app}-service"


def service_spec(app: str, port: int) -> k8s.core.v1.ServiceSpecArgs:
    return k8s.core.v1.ServiceSpecArgs(
        type="ClusterIP",
        # Every version behind one Service: the DestinationRule's subsets split them by `version`.
        selector={"app": app},
        # Istio picks the protocol from the port name: `http` makes it route at layer 7.
        ports=[k8s.core.v1.ServicePortArgs(name="http", port=port, target_port=port)],
    )


@dataclass(frozen=True)
class AppServiceArgs:
    namespace: pulumi.Input[str]
    app: str
    port: int


class AppService(pulumi.ComponentResource):
    """The ClusterIP Service that the DestinationRule and VirtualService address."""

    name: pulumi.Output[str]
    """Name of the Service (`<app>-service`), the host the routing rules use."""

    def __init__(self, name: str, args: AppServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("canary:index:AppService", name, None, opts)
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=service_name(args.app), namespace=args.namespace),
            spec=service_spec(args.app, args.port),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.name = service.metadata.name
        self.register_outputs({"name": self.name})
