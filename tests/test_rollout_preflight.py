"""The preflight's checks one by one: each failure is one line naming what failed."""

from __future__ import annotations

from canary.policy import Policy
from canary.rollout import preflight

RELEASE = preflight.Release("shop", "web", "v1", ("v1", "v2"))


def test_a_stack_never_deployed_has_no_outputs_to_take_the_url_from():
    assert preflight.url_problem(None, {}, "prod") == (
        "stack prod has no outputs (never deployed?): run `pulumi up` first, or pass --url"
    )


def test_outputs_without_a_url_ask_for_one():
    assert (
        preflight.url_problem(None, {"routes": []}, "prod")
        == "stack prod names no URL in its outputs (urls): pass --url"
    )


def test_the_stacks_first_url_is_used_and_must_resolve():
    assert preflight.url_problem(None, {"urls": ["http://127.0.0.1/", "http://x.invalid/"]}, "prod") is None
    problem = preflight.url_problem(None, {"urls": ["http://shop.invalid/"]}, "prod")
    assert problem is not None and problem.startswith("the URL's host shop.invalid does not resolve")


def test_the_outputs_are_read_only_without_url():
    def outputs() -> dict[str, object]:
        raise AssertionError("read though --url was given")

    assert preflight.problem(Policy(), RELEASE, url="http://127.0.0.1/", outputs=outputs, stack="prod") is None


def test_outputs_that_cannot_be_read_are_the_problem():
    def outputs() -> dict[str, object]:
        raise preflight.OutputsUnavailableError("cannot read the outputs of stack prod: no stack named 'prod' found")

    problem = preflight.problem(Policy(), RELEASE, url=None, outputs=outputs, stack="prod")
    assert problem == "cannot read the outputs of stack prod: no stack named 'prod' found"
