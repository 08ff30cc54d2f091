"""One version of the app: its Deployment, whose pods carry the labels `app` and `version`."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from canary.settings import VersionSettings


def pod_labels(app: str, version: str) -> dict[str, str]:
    # The Service selects on `app` alone; the DestinationRule subsets select on `version`.
    return {"app": app, "version": version}


def deployment_name(app: str, version: str) -> str:
    return f"{app}-deployment-{version}"


def deployment_spec(app: str, port: int, version: VersionSettings) -> k8s.apps.v1.DeploymentSpecArgs:
    labels = pod_labels(app, version.name)
    return k8s.apps.v1.DeploymentSpecArgs(
        replicas=version.replicas,
        selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels),
        template=k8s.core.v1.PodTemplateSpecArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
            spec=k8s.core.v1.PodSpecArgs(
                containers=[
                    k8s.core.v1.ContainerArgs(
                        name=app,
                        image=version.image,
                        image_pull_policy=version.image_pull_policy,
                        ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=port)],
                    )
                ]
            ),
        ),
    )


@dataclass(frozen=True)
class AppVersionArgs:
    namespace: pulumi.Input[str]
    app: str
    port: int
    version: VersionSettings


class AppVersion(pulumi.ComponentResource):
    """A Deployment running one version of the app."""

    deployment_name: pulumi.Output[str]
    """Name of the Deployment (`<app>-deployment-<version>`)."""

    def __init__(self, name: str, args: AppVersionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("canary:index:AppVersion", name, None, opts)
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=deployment_name(args.app, args.version.name), namespace=args.namespace
            ),
            spec=deployment_spec(args.app, args.port, args.version),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.deployment_name = self.deployment.metadata.name
        self.register_outputs({"deployment_name": self.deployment_name})
