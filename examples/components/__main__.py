"""A canary of an API behind an Istio gateway, built from the istio-canary components directly.

The program owns its namespace and reads its own config; the components take plain values or
outputs of other resources, and are wired to each other by reference.
"""

import pulumi
import pulumi_kubernetes as k8s

from canary import (
    AppService,
    AppServiceArgs,
    AppVersion,
    AppVersionArgs,
    Autoscaling,
    Canary,
    IstioGateway,
    IstioGatewayArgs,
    RoutingRules,
    RoutingRulesArgs,
    Workload,
)

config = pulumi.Config()
namespace = k8s.core.v1.Namespace(
    "api", metadata={"name": "api", "labels": {"istio-injection": "enabled"}}
).metadata.name

stable = AppVersion(
    "api-v1",
    AppVersionArgs(
        namespace=namespace,
        app="api",
        port=8080,
        workload=Workload(
            version="v1", image="registry.example.com/shop/api:1.0", autoscaling=Autoscaling(min=2, max=6)
        ),
    ),
)
canary = AppVersion(
    "api-v2",
    AppVersionArgs(
        namespace=namespace,
        app="api",
        port=8080,
        workload=Workload(version="v2", image=config.get("image", "registry.example.com/shop/api:2.0")),
    ),
)
service = AppService(
    "api-service", AppServiceArgs(namespace=namespace, app="api", port=8080, selector=stable.app_labels)
)
gateway = IstioGateway("api-gateway", IstioGatewayArgs(namespace=namespace, app="api", hosts=["api.example.com"]))
routing = RoutingRules(
    "api-routing",
    RoutingRulesArgs(
        namespace=namespace,
        app="api",
        hosts=["api.example.com"],
        service_host=service.name,
        gateway=gateway.name,
        subsets={"v1": stable.version_labels, "v2": canary.version_labels},
        stable="v1",
        canary=Canary(version="v2", headers={"x-canary": "always"}, weight=config.get_int("weight", 10)),
        # The rules change only once the versions they route to are ready.
        route_targets={"v1": stable.deployment, "v2": canary.deployment},
    ),
)

pulumi.export("routes", routing.routes)
