"""`AppVersion`: one version of the app as a Pulumi component (objects from `canary.plan.app_version`)."""

from __future__ import annotations

import pulumi

from canary.components.backend import PlannedComponent
from canary.plan.app_version import APP_VERSION, AppVersionArgs, AppVersionParts
from canary.plan.workload import Autoscaling, Compute, Probe, Resources, Workload

__all__ = ["AppVersion", "AppVersionArgs", "Autoscaling", "Compute", "Probe", "Resources", "Workload"]


class AppVersion(PlannedComponent):
    """A Deployment running one version of the app, with its disruption budget and autoscaler."""

    parts: AppVersionParts
    deployment_name: pulumi.Output[str]
    """Name of the Deployment (`<app>-deployment-<version>`)."""

    def __init__(self, name: str, args: AppVersionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(APP_VERSION, name, args, opts)

    @property
    def deployment(self) -> pulumi.CustomResource:
        """The Deployment resource: depend on it to wait until the version's pods are ready."""
        resource: pulumi.CustomResource = self.parts.deployment.handle
        return resource

    @property
    def labels(self) -> dict[str, str]:
        """Every label of the version's pods."""
        return self.parts.labels

    @property
    def app_labels(self) -> dict[str, str]:
        """The labels all versions' pods share: a Service's selector."""
        return self.parts.app_labels

    @property
    def version_labels(self) -> dict[str, str]:
        """The labels only this version's pods have: a DestinationRule subset's selector."""
        return self.parts.version_labels
