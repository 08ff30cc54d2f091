"""The app's Service: one stable name in front of every version's pods."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, get_args

from canary.plan import kubernetes_schema
from canary.plan.backend import Backend, ComponentKind, Manifest, Ref, metadata
from canary.plan.kubernetes_schema import Problem
from canary.plan.pod_blocks import ServicePortBlock
from canary.plan.rules import checks

RoutedProtocol = Literal["http", "http2", "grpc"]
"""What the routed port speaks; Istio reads it off the Service port's name."""

if TYPE_CHECKING:
    import pulumi


@dataclass(frozen=True)
class AppServiceArgs:
    namespace: pulumi.Input[str]
    """The release's namespace, where the Service is declared. Required."""
    app: str
    """The app's name; the Service is `<app>-service`. Required."""
    selector: Mapping[str, pulumi.Input[str]]
    """The labels every version's pods share (`AppVersion.app_labels`). Required."""
    port: int = 80
    """Service port and target port, named after `protocol`. Default: `80`."""
    protocol: RoutedProtocol = "http"
    """What the routed port speaks: its Service port is named so (`http`, `http2`, `grpc`), as Istio reads it.
    Default: `"http"`."""
    extra_ports: Sequence[ServicePortBlock] = ()
    """Other ports of the Service, as `ServicePort` spells them (a metrics port, a gRPC port). Default: `()`."""

    FIELD_RULES: ClassVar[Mapping[str, checks.FieldRule]] = {
        "namespace": checks.namespace_name,
        "app": checks.app_name,
        # An empty selector would select no pod at all (a Service without endpoints).
        "selector": checks.pod_selector,
        "port": checks.port,
        "protocol": checks.one_of(*get_args(RoutedProtocol)),
    }

    def __post_init__(self) -> None:
        checks.check_fields(self, self.FIELD_RULES)
        object.__setattr__(self, "extra_ports", kubernetes_schema.plain(self.extra_ports))
        for path, value, reason in service_port_problems(self.extra_ports, self.port, self.protocol):
            checks.refuse(self, f"extra_ports{path}", value, reason)


def service_port_problems(ports: Any, routed_port: int, protocol: str = "http") -> Iterator[Problem]:
    """Ports beside the routed one: each a whole, named ServicePort, none repeating another or the routed one."""
    if isinstance(ports, (str, bytes)) or not isinstance(ports, Sequence):
        yield "", ports, "must be a list of ServicePorts"
        return
    seen: dict[Any, int] = {}
    for index, port in enumerate(ports):
        where = f"[{index}]"
        found = kubernetes_schema.schema_problems(port, "ServicePort")
        if found:
            path, value, reason = found[0]
            yield f"{where}.{path}" if path else where, value, reason
            continue
        for key in ("name", "port"):
            if key not in port:
                # A Service of more than one port must name each.
                yield f"{where}.{key}", port, "required"
        for key in ("port", "targetPort", "nodePort"):
            # The schema says int32; the API server takes a port number (or a name, for targetPort).
            value = port.get(key)
            if isinstance(value, int) and (out_of_range := checks.port(value)) is not None:
                yield f"{where}.{key}", value, out_of_range
        if port.get("port") == routed_port:
            yield f"{where}.port", port.get("port"), "is the routed port (`port`): list only the others"
        if port.get("name") == protocol:
            yield f"{where}.name", protocol, "is the routed port's name: name this one otherwise"
        for key in ("name", "port"):
            if (value := port.get(key)) is not None and (key, value) in seen:
                yield f"{where}.{key}", value, f"repeats the {key} of [{seen[(key, value)]}]"
            seen.setdefault((key, value), index)


@dataclass(frozen=True)
class AppServiceParts:
    service: Ref

    @property
    def outputs(self) -> dict[str, Any]:
        return {"name": self.service.name}


def service_name(app: str) -> str:
    return f"{app}-service"


def service(
    namespace: pulumi.Input[str],
    app: str,
    selector: Mapping[str, pulumi.Input[str]],
    port: int,
    protocol: RoutedProtocol = "http",
    extra_ports: Sequence[Mapping[str, Any]] = (),
) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(service_name(app), namespace),
        "spec": {
            "type": "ClusterIP",
            # Every version behind one Service: the DestinationRule's subsets split them by version.
            "selector": dict(selector),
            # Istio picks the protocol from the port name: `http` makes it route at layer 7, `grpc`
            # and `http2` too, speaking HTTP/2 to the pods.
            "ports": [{"name": protocol, "port": port, "targetPort": port}, *map(dict, extra_ports)],
        },
    }


def plan_app_service(backend: Backend, name: str, args: AppServiceArgs) -> AppServiceParts:
    return AppServiceParts(
        service=backend.object(
            f"{name}-service",
            service(args.namespace, args.app, args.selector, args.port, args.protocol, args.extra_ports),
        )
    )


APP_SERVICE: ComponentKind[AppServiceArgs, AppServiceParts] = ComponentKind(
    type_token="canary:index:AppService", plan=plan_app_service
)
