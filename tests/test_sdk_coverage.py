"""Fidelity audit: every SDK method under `client.beta.assistants`, `client.beta.threads` (with
`messages`, `runs`, `runs.steps`), `client.files` and `client.vector_stores` (with `files` and
`file_batches`), and any sub-resource a new SDK adds, is exercised by
some test, so new SDK surface is noticed the day the SDK grows it.

The SDK side is found by introspection of the installed `openai`; the test side by parsing every
`tests/test_*.py` with `ast` (no test is imported or run): attribute chains such as
`client.beta.threads.runs.submit_tool_outputs_stream`, also through `with_raw_response`, simple
aliases (`runs = client.beta.threads.runs`, or a fixture returning a resource) and
`getattr(resource, "name")`.
"""

from __future__ import annotations

import ast
import functools
import inspect
from pathlib import Path
from typing import Any

import openai
import pytest
from openai._resource import AsyncAPIResource, SyncAPIResource

TESTS = Path(__file__).parent
ROOTS = ("beta.assistants", "beta.threads", "files", "vector_stores")
WRAPPERS = frozenset({"with_raw_response", "with_streaming_response"})


# --- the SDK's surface -----------------------------------------------------------------------


def sdk_methods() -> dict[str, set[str]]:
    """Public methods per resource path (`"beta.threads.runs"` -> {"create", ...}), sync+async."""
    found: dict[str, set[str]] = {}
    for client in (openai.OpenAI(api_key="sk-audit"), openai.AsyncOpenAI(api_key="sk-audit")):
        for root in ROOTS:
            resource: Any = client
            for name in root.split("."):
                resource = getattr(resource, name)
            _walk(resource, root, found)
    return found


def _walk(resource: Any, path: str, found: dict[str, set[str]]) -> None:
    cls = type(resource)
    methods = found.setdefault(path, set())
    for name in dir(cls):
        if name.startswith("_") or name in WRAPPERS:
            continue
        member = inspect.getattr_static(cls, name)
        if inspect.isfunction(member):
            methods.add(name)
        elif isinstance(member, functools.cached_property | property):
            child = getattr(resource, name)
            if isinstance(child, SyncAPIResource | AsyncAPIResource):
                _walk(child, f"{path}.{name}", found)


# --- what the tests call ---------------------------------------------------------------------


def chain(node: ast.AST) -> list[str] | None:
    """`a.b.c` -> ["a", "b", "c"] (wrapper attributes dropped); None for anything else."""
    names: list[str] = []
    while isinstance(node, ast.Attribute):
        if node.attr not in WRAPPERS:
            names.append(node.attr)
        node = node.value
    if isinstance(node, ast.Call):  # `client.with_options(...).beta...`: read through it
        head = chain(node.func)
        return None if head is None else head + names[::-1]
    if not isinstance(node, ast.Name):
        return None
    names.append(node.id)
    return names[::-1]


class Calls(ast.NodeVisitor):
    """Collects `(resource path, method)` pairs one test module reaches."""

    def __init__(self, resources: dict[str, set[str]]) -> None:
        self.resources = resources
        self.aliases: dict[str, str] = {}  # local name -> resource path
        self.used: set[tuple[str, str]] = set()
        self.dynamic: set[str] = set()  # resources reached with getattr(resource, variable)
        self.strings: set[str] = set()

    def resource_of(self, names: list[str]) -> str | None:
        """The resource path a chain ends with (`client.beta.threads` -> `beta.threads`)."""
        for path in sorted(self.resources, key=len, reverse=True):
            parts = path.split(".")
            if names[-len(parts) :] == parts:
                return path
        if len(names) >= 1 and names[0] in self.aliases:
            path = ".".join([self.aliases[names[0]], *names[1:]])
            return path if path in self.resources else None
        return None

    def scan(self, tree: ast.AST) -> None:
        for node in ast.walk(tree):  # aliases first, wherever they are defined
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                self._alias(node.targets[0], node.value)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for statement in ast.walk(node):
                    if isinstance(statement, ast.Return) and statement.value is not None:
                        self._alias(ast.Name(node.name), statement.value)
        self.visit(tree)
        for path in self.dynamic:
            self.used |= {(path, s) for s in self.strings if s in self.resources[path]}

    def _alias(self, target: ast.AST, value: ast.AST) -> None:
        names = chain(value)
        if isinstance(target, ast.Name) and names:
            path = self.resource_of(names)
            if path is not None:
                self.aliases[target.id] = path

    def visit_Attribute(self, node: ast.Attribute) -> None:
        names = chain(node)
        if names and len(names) > 1:
            path = self.resource_of(names[:-1])
            if path is not None and names[-1] in self.resources[path]:
                self.used.add((path, names[-1]))
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id == "getattr" and len(node.args) >= 2:
            names = chain(node.args[0])
            path = self.resource_of(names) if names else None
            name = node.args[1]
            if path is not None and isinstance(name, ast.Constant) and isinstance(name.value, str):
                self.used.add((path, name.value))
            elif path is not None:
                self.dynamic.add(path)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            self.strings.add(node.value)


def exercised(sources: dict[str, str], resources: dict[str, set[str]]) -> set[tuple[str, str]]:
    """Every `(resource path, method)` the given test sources reach."""
    used: set[tuple[str, str]] = set()
    for source in sources.values():
        calls = Calls(resources)
        calls.scan(ast.parse(source))
        used |= calls.used
    return used


def suite_sources() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(TESTS.glob("test_*.py"))}


# --- the audit -------------------------------------------------------------------------------


def test_every_assistants_sdk_method_is_exercised_by_the_suite() -> None:
    resources = sdk_methods()
    everything = {(path, name) for path, names in resources.items() for name in names}

    missing = everything - exercised(suite_sources(), resources)

    assert not missing, "SDK methods no test exercises (openai {}): {}".format(
        openai.__version__, ", ".join(f"client.{p}.{n}" for p, n in sorted(missing))
    )


def test_the_audit_sees_the_whole_known_surface() -> None:
    resources = sdk_methods()

    assert set(resources) >= {
        "beta.assistants",
        "beta.threads",
        "beta.threads.messages",
        "beta.threads.runs",
        "beta.threads.runs.steps",
        "files",
        "vector_stores",
        "vector_stores.files",
        "vector_stores.file_batches",
    }
    assert {"create_and_poll", "submit_tool_outputs_stream", "stream"} <= resources[
        "beta.threads.runs"
    ]
    assert not WRAPPERS & set().union(*resources.values())


AUDITED_SNIPPET = """
import pytest

@pytest.fixture
def steps(client):
    return client.beta.threads.runs.steps

def test_x(client, async_client, steps, method):
    client.beta.assistants.create(model="m")
    client.with_options(max_retries=0).beta.threads.with_raw_response.retrieve("t")
    runs = client.beta.threads.runs
    runs.create_and_poll(thread_id="t", assistant_id="a")
    poll = async_client.beta.threads.runs.poll
    steps.retrieve("s", thread_id="t", run_id="r")
    getattr(client.beta.threads.messages, "delete")
    getattr(client.beta.assistants, method)

@pytest.mark.parametrize("method", ["list", "delete", "not_a_method"])
def test_y(method): ...

def test_not_sdk(emu):
    emu.runs("t")
    emu.threads.create()
"""


def test_the_audit_reads_calls_aliases_fixtures_and_getattr() -> None:
    resources = sdk_methods()

    found = exercised({"snippet": AUDITED_SNIPPET}, resources)

    assert found == {
        ("beta.assistants", "create"),
        ("beta.threads", "retrieve"),
        ("beta.threads.runs", "create_and_poll"),
        ("beta.threads.runs", "poll"),
        ("beta.threads.runs.steps", "retrieve"),
        ("beta.threads.messages", "delete"),
        ("beta.assistants", "list"),
        ("beta.assistants", "delete"),
    }


@pytest.mark.parametrize("source", ["client.beta.threads.runs", "runs.create(x)"])
def test_the_audit_needs_a_method_on_a_resource(source: str) -> None:
    assert exercised({"snippet": source}, sdk_methods()) == set()
