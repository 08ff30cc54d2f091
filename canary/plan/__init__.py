"""The release as a plan: pure functions that build each Kubernetes object as the API spells it.

Each component's plan declares its objects through a `Backend`. Two back ends run the same plan:
the Pulumi components (`canary.components`) register each object as a resource, and `render`
collects the manifests as plain data, without the Pulumi SDK. Values that come from another
resource (a namespace's name, a Deployment's name) are placed in the manifests as they are:
Pulumi outputs in the first back end, plain strings in the second.
"""
