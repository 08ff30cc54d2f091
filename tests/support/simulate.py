"""Run the Pulumi program under the SDK's mocks and record every object it registers.

No engine, no cluster: `pulumi.runtime.set_mocks` stands in for the engine, and a recording
monitor keeps each registration (type, name, parent, dependencies, inputs) and each component's
registered outputs. The renderer and the tests both read what it records.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

from canary.config import PROJECT


@dataclass(frozen=True)
class Registration:
    """One resource as the program registered it."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    dependencies: tuple[str, ...]
    provider: str
    inputs: dict[str, Any]
    ignore_changes: tuple[str, ...] = ()


@dataclass
class Simulation:
    """What one run of the program registered, in order, and what it exported."""

    registrations: list[Registration] = field(default_factory=list)
    registered_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)

    def manifests(self) -> list[dict[str, Any]]:
        """The Kubernetes objects, as they would be sent to the API server."""
        return [_whole_numbers(r.inputs) for r in self.registrations if r.custom and r.type.startswith("kubernetes:")]

    def find(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.manifests() if m["kind"] == kind]


def _whole_numbers(value: Any) -> Any:
    """Undo the wire format's doubles: `replicas: 1.0` goes back to the API server as `1`."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(item) for item in value]
    return value


class _EchoMocks(pulumi.runtime.Mocks):
    """Every resource comes back with its inputs as its state, as a create would return them."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-id", args.inputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        return {}


def _close_worker_loop() -> None:
    """Close the event loop the mocks opened on this worker thread.

    The SDK calls the monitor from a thread pool, and the mocks give each worker thread an event
    loop that nothing closes; collected unclosed at interpreter exit, it complains on stderr.
    """
    if threading.current_thread() is threading.main_thread():
        return
    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        return
    if not loop.is_running():
        loop.close()
        asyncio.set_event_loop(None)


class _RecordingMonitor(MockMonitor):
    def __init__(self, simulation: Simulation) -> None:
        super().__init__(_EchoMocks())
        self._simulation = simulation

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (the gRPC method's name)
        try:
            response = super().RegisterResource(request)
        finally:
            _close_worker_loop()
        if request.type != "pulumi:pulumi:Stack":
            self._simulation.registrations.append(
                Registration(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    custom=request.custom,
                    parent=request.parent,
                    dependencies=tuple(request.dependencies),
                    provider=request.provider,
                    inputs=self.resources[response.urn].state,
                    ignore_changes=tuple(request.ignoreChanges),
                )
            )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802
        outputs = rpc.deserialize_properties(request.outputs)
        self._simulation.registered_outputs[request.urn] = outputs
        return super().RegisterResourceOutputs(request)


def install_mocks(simulation: Simulation, *, stack: str = "dev") -> None:
    """Point the Pulumi runtime at mocks that record into `simulation`."""
    # The SDK runs on the thread's current event loop; after an `asyncio.run()` there is none,
    # so every run gets a fresh one (and `simulate` closes it when done). A loop left current
    # by earlier code is closed first: collected unclosed at exit, it complains loudly.
    try:
        previous = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        previous = None
    if previous is not None and not previous.is_running():
        previous.close()
    asyncio.set_event_loop(asyncio.new_event_loop())
    pulumi.runtime.set_mocks(
        _EchoMocks(), project=PROJECT, stack=stack, preview=False, monitor=_RecordingMonitor(simulation)
    )


def simulate(
    config: Mapping[str, str],
    *,
    stack: str = "dev",
    into: Simulation | None = None,
    secret_keys: Iterable[str] = (),
) -> Simulation:
    """Run the program with `config` (project keys without prefix, values as Pulumi passes them).

    `secret_keys` (without prefix) are marked secret, as the CLI marks keys set with --secret.

    Raises what the program raises, e.g. `pulumi.RunError` for an invalid stack config; pass
    `into` to keep what was recorded up to then.
    """
    # Imported here so that importing this module registers nothing.
    from canary.program import release_from_config

    simulation = into if into is not None else Simulation()
    install_mocks(simulation, stack=stack)
    runtime_config.set_all_config(
        {f"{PROJECT}:{key}": value for key, value in config.items()}, [f"{PROJECT}:{key}" for key in secret_keys]
    )

    def program() -> pulumi.Output[Any]:
        outputs = release_from_config()
        return pulumi.Output.all(**outputs).apply(simulation.outputs.update)

    try:
        pulumi.runtime.test(program)()
    finally:
        # The mocks leave their event loop open, and one collected at interpreter exit complains
        # loudly; close it, and let the next run start a fresh one.
        asyncio.get_event_loop().close()
        asyncio.set_event_loop(None)
    simulation.outputs = _whole_numbers(simulation.outputs)
    return simulation
