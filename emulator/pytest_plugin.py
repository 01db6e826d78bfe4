"""pytest plugin: the `assistants_emulator` fixture, a fresh started `Emulator` per test.

Configure it with the marker `@pytest.mark.assistants_emulator(**kwargs)`: keyword arguments
go to `Emulator(...)`, except `snapshot=` (a path or data to load), `script=` (a JSON script
file of replies and rules, or its data), `progress=`, `hold=` and `latency=` (set after
construction); relative paths missing from the working directory are read from rootdir, and
`examples/NAME` missing from both is the example shipped in the package.
`assistants_emulator_server` serves the same emulator over real HTTP.

pytest imports this module in every session of every project that installed the package, so it
imports the emulator (pydantic, httpx, respx, tiktoken...) only when a fixture is first used.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from . import examples

if TYPE_CHECKING:
    from .emulator import Emulator
    from .http.server import ThreadedServer


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "assistants_emulator_offline_tiktoken",
        "fill tiktoken's cache from the encodings bundled with assistants-emulator at the start "
        "of the session, so tiktoken.get_encoding never downloads (default: false)",
        type="bool",
        default=False,
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getini("assistants_emulator_offline_tiktoken"):
        from .engine.tiktoken_cache import offline_tiktoken

        offline_tiktoken()
    config.addinivalue_line(
        "markers",
        "assistants_emulator(**kwargs): options for the assistants_emulator fixture "
        "(Emulator keyword arguments, snapshot=..., script=..., progress=..., hold=...)",
    )


def build_emulator(options: dict[str, Any]) -> Emulator:
    """An emulator from marker options (shared by the fixture and by users' own fixtures)."""
    from .emulator import Emulator
    from .engine.responders import load_script

    options = dict(options)
    snapshot = options.pop("snapshot", None)
    script = options.pop("script", None)
    progress = options.pop("progress", None)
    hold = options.pop("hold", None)
    latency = options.pop("latency", None)
    emulator = Emulator(**options)
    if snapshot is not None:
        emulator.load(examples.resolve(snapshot) if isinstance(snapshot, str | Path) else snapshot)
    if script is not None:
        emulator.respond_with(
            load_script(examples.resolve(script) if isinstance(script, str | Path) else script)
        )
    if progress is not None:
        emulator.progress = progress
    if hold is not None:  # "queued" / "in_progress", or True for "in_progress"
        emulator.hold("in_progress" if hold is True else hold)
    if latency is not None:
        emulator.latency = latency
    return emulator


def _from_rootdir(options: dict[str, Any], rootdir: Path) -> dict[str, Any]:
    """Relative `snapshot=`/`script=` paths missing from the working directory, from rootdir."""
    resolved = dict(options)
    for name in ("snapshot", "script"):
        path = resolved.get(name)
        if isinstance(path, str | Path) and not Path(path).exists() and (rootdir / path).exists():
            resolved[name] = rootdir / path
    return resolved


@pytest.fixture
def assistants_emulator(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """A started `Emulator`, fresh for each test and stopped afterwards."""
    marker = request.node.get_closest_marker("assistants_emulator")
    options = _from_rootdir(marker.kwargs if marker else {}, request.config.rootpath)
    emulator = build_emulator(options)
    with emulator:
        yield emulator


@pytest.fixture(scope="session")
def _assistants_emulator_http() -> Iterator[ThreadedServer]:
    from .emulator import Emulator
    from .http.server import ThreadedServer

    with ThreadedServer(Emulator()) as server:
        yield server


@pytest.fixture
def assistants_emulator_server(
    assistants_emulator: Emulator, _assistants_emulator_http: ThreadedServer
) -> ThreadedServer:
    """The `assistants_emulator` served over real HTTP: one uvicorn server on a free loopback
    port (in a thread) for the whole session, serving each test's own emulator. Point a client
    at `assistants_emulator_server.base_url`."""
    _assistants_emulator_http.emulator = assistants_emulator
    return _assistants_emulator_http
