"""The component provider: serves the components to a program in any Pulumi language.

`plugin/` runs `serve` (Pulumi starts it as a plugin). The engine sends a component's type token
and its properties; the properties become the component's Args (`canary.provider.inputs`), whose
own rules refuse a bad value, and the component is built as a Python program builds it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi.provider as provider
from pulumi.errors import InputPropertiesError

import canary
from canary.provider.inputs import PropertyError, args_from_properties
from canary.provider.schema import Component, camel, output_properties, schema, served_components, type_hints


class CanaryProvider(provider.Provider):
    """The package `canary`: its schema and the construction of its components."""

    def __init__(self) -> None:
        super().__init__(canary.__version__, json.dumps(schema()))
        self._components = {component.token: component for component in served_components()}

    def construct(
        self, name: str, resource_type: str, inputs: pulumi.Inputs, options: pulumi.ResourceOptions | None = None
    ) -> provider.ConstructResult:
        component = self._components.get(resource_type)
        if component is None:
            raise InputPropertiesError(f"the package canary has no component {resource_type}")
        try:
            args = args_from_properties(component.args_class, inputs)
            built = component.component_class(name, args, options)
        except (PropertyError, canary.ArgsError) as error:
            # The message is the whole report: the field, the value, the rule. No stack trace.
            path = error.path if isinstance(error, PropertyError) else error.field
            message = str(error)
            # The engine prints the property and its value beside the reason: no need to repeat them.
            reason = message.removeprefix(path).strip()
            raise InputPropertiesError(message, [{"property_path": path, "reason": reason}]) from None
        return provider.ConstructResult(urn=built.urn, state=outputs_of(component, built))


def outputs_of(component: Component, built: Any) -> dict[str, Any]:
    """The component's declared outputs, under their schema names."""
    declared = output_properties(component.component_class)
    attributes = [attribute for attribute in type_hints(component.component_class) if camel(attribute) in declared]
    return {camel(attribute): getattr(built, attribute) for attribute in attributes}


def serve(argv: Sequence[str]) -> None:
    provider.main(CanaryProvider(), list(argv))


if __name__ == "__main__":
    serve(sys.argv[1:])
