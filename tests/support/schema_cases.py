"""Configs, one per feature, whose rendered objects the schema checks (unit and e2e) validate."""

from __future__ import annotations

import copy

from canary.config import ISTIO_API_VERSIONS
from tests.support.project import BASELINE


def variant(**changes):
    config = copy.deepcopy(BASELINE)
    config.update(changes)
    return config


CASES = {
    "baseline": variant(),
    "no canary": variant(canary={}),
    "weighted canary with cookie and headers": variant(
        canary={
            "version": "v2",
            "cookie": "version=v2",
            "headers": {"x-canary": "always", "x-team": "qa"},
            "weight": 10,
        }
    ),
    "all traffic to the canary": variant(canary={"version": "v2", "weight": 100}),
    "dark launch": variant(
        versions=[*BASELINE["versions"], {"name": "v3", "image": "registry.example.com/web@sha256:" + "a" * 64}]
    ),
    "tls with redirect": variant(gateway={"tls": {"credentialName": "web-cert"}}),
    "tls without redirect, custom selector": variant(
        gateway={"selector": {"app": "edge-gateway"}, "tls": {"credentialName": "web-cert", "httpsRedirect": False}}
    ),
    "wildcard hosts and load balancer": variant(
        hosts=["*.example.com", "web.example.org"], loadBalancerDns="lb-1.elb.example.com"
    ),
    "port 8080, replicas 0, pull policy Never": variant(
        port=8080,
        versions=[
            {"name": "v1", "image": "web:1", "replicas": 0, "imagePullPolicy": "Never"},
            {"name": "v2", "image": "web:2", "replicas": 3},
        ],
    ),
    "version header off": variant(routing={"versionHeader": False}),
    "production workloads": variant(
        port=8080,
        versions=[
            {
                "name": "v1",
                "image": "registry.example.com/web:1@sha256:" + "b" * 64,
                "probe": {"type": "tcp"},
                "resources": {"requests": {"cpu": "0.25", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
                "autoscaling": {"min": 3, "max": 9, "cpu": 60},
            },
            {"name": "v2", "image": "web:2", "replicas": 4, "securityProfile": "root"},
        ],
        routing={"mesh": True},
        security={"mtls": True, "networkPolicy": True},
    ),
    **{
        f"namespace security, istio {version}": variant(
            istioApiVersion=version, security={"mtls": True, "networkPolicy": True}
        )
        for version in ISTIO_API_VERSIONS
    },
    **{f"istio {version}": variant(istioApiVersion=version) for version in ISTIO_API_VERSIONS},
    **{
        f"sticky and mirrored canary, istio {version}": variant(
            istioApiVersion=version,
            gateway={"tls": {"credentialName": "web-cert"}},
            canary={
                "version": "v2",
                "cookie": "version=v2",
                "weight": 20,
                "sticky": {"cookie": "canary-pin", "maxAge": 600},
                "mirror": 7.5,
            },
        )
        for version in ISTIO_API_VERSIONS
    },
    "gateway api, the tutorial": variant(routing={"api": "gateway-api"}, loadBalancerDns="lb-1.elb.example.com"),
    "gateway api, sticky, mirrored, tls with redirect, testers by cookie and headers": variant(
        routing={"api": "gateway-api"},
        gateway={"className": "istio", "tls": {"credentialName": "web-cert"}},
        hosts=["*.example.com", "web.example.org"],
        canary={
            "version": "v2",
            "cookie": "version=v2",
            "headers": {"x-canary": "always", "x-team": "qa"},
            "weight": 20,
            "sticky": {"cookie": "canary-pin", "maxAge": 600},
            # Decimals: the mirror filter's fraction.
            "mirror": 7.5,
        },
    ),
    "gateway api, tls without redirect, all to the canary, whole mirror percent, no version header": variant(
        routing={"api": "gateway-api", "versionHeader": False},
        gateway={"className": "eg", "tls": {"credentialName": "web-cert", "httpsRedirect": False}},
        canary={"version": "v2", "weight": 60, "mirror": 25},
        port=8080,
    ),
    "gateway api, no canary, namespace security": variant(
        routing={"api": "gateway-api"}, canary={}, security={"mtls": True, "networkPolicy": True}
    ),
    "an existing namespace, security scoped to the app's pods": variant(
        createNamespace=False, security={"mtls": True, "networkPolicy": True}
    ),
}
