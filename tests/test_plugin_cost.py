"""What the pytest plugin costs a session that installed the package (issue 12).

pytest imports `emulator.pytest_plugin` in every session, so importing it (and `emulator`)
loads none of the heavy libraries: the package's names are imported on first use. Fresh
interpreters (subprocesses) are the only place where `sys.modules` shows that. The fixture
leaves nothing behind either: respx keeps no record of the requests.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import emulator
from emulator import Emulator

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parent.parent
HEAVY = {"pydantic", "httpx", "httpx2", "httpcore", "respx", "tiktoken", "openai", "uvicorn"}
HEAVY |= {"starlette", "anyio"}


def imported_by(statement: str) -> list[str]:
    """The modules a fresh interpreter has loaded after `statement`, this checkout's `emulator`."""
    probe = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    modules: list[str] = json.loads(done.stdout)
    return modules


@pytest.mark.parametrize("module", ["emulator", "emulator.pytest_plugin"])
def test_importing_loads_nothing_heavy(module: str) -> None:
    modules = imported_by(f"import {module}")

    assert [m for m in modules if m.split(".")[0] in HEAVY] == []
    assert {m for m in modules if m.split(".")[0] == "emulator"} <= {
        "emulator",
        "emulator.examples",
        "emulator.pytest_plugin",
    }


def test_a_name_is_imported_when_first_used() -> None:
    modules = imported_by("from emulator import FrozenClock")

    assert "emulator.state.clock" in modules
    assert "emulator.emulator" not in modules


def test_a_session_that_does_not_use_the_fixture_loads_nothing_heavy(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # this checkout, not the installed copy
    pytester.makepyfile(
        f"""
        import sys
        import pytest

        def test_unmarked():
            assert {{m.split(".")[0] for m in sys.modules}} & {HEAVY!r} == set()

        @pytest.mark.assistants_emulator(seed=3)  # registered: --strict-markers accepts it
        def test_marked_without_the_fixture():
            assert {{m.split(".")[0] for m in sys.modules}} & {HEAVY!r} == set()
        """
    )

    # respx's and anyio's own pytest plugins (installed with them) import httpx and anyio.
    result = pytester.runpytest_subprocess(
        *(
            "-p",
            "no:cacheprovider",
            "-p",
            "no:respx",
            "-p",
            "no:anyio",
            "-p",
            "no:hypothesispytest",
        ),
        "--strict-markers",
    )

    result.assert_outcomes(passed=2)


# --- the package's names ---------------------------------------------------------------------


def test_every_public_name_resolves_and_is_listed() -> None:
    namespace: dict[str, object] = {}
    exec("from emulator import *", namespace)

    assert set(emulator.__all__) <= set(namespace)
    assert set(emulator.__all__) <= set(dir(emulator))
    assert emulator.Emulator is Emulator
    assert emulator.reply.__name__ == "emulator.engine.reply"  # a module, as before


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'Emulatr'"):
        emulator.Emulatr  # noqa: B018
    with pytest.raises(ImportError):
        exec("from emulator import Emulatr", {})


def test_type_checkers_see_the_names_runtime_imports() -> None:
    """`emulator/__init__.py` imports its names under TYPE_CHECKING and lists their modules for
    runtime: the two say the same."""
    tree = ast.parse((ROOT / "emulator" / "__init__.py").read_text(encoding="utf-8"))
    [guarded] = [
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    ]
    typed = {
        alias.name: "." + (node.module or "")
        for node in guarded.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }

    assert typed == emulator._SOURCES
    assert sorted(typed) == sorted(emulator.__all__)


# --- nothing left behind ---------------------------------------------------------------------


def test_respx_keeps_no_record_of_the_requests() -> None:
    """respx records every call its routes answer; the emulator's router has none, so a long
    session does not grow a list of every request it made."""
    from emulator.adapters.registry import REGISTRY

    router = REGISTRY._interceptors[0].router
    with Emulator(), httpx.Client() as client:
        for _ in range(3):
            response = client.get(
                "https://api.openai.com/v1/models", headers={"Authorization": "Bearer k"}
            )
            assert response.status_code == 200
    assert router.calls.call_count == 0
    assert len(router.routes) == 0
