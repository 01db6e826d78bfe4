"""pytest plugin: the `assistants_emulator` fixture, a fresh started `Emulator` per test.

Configure it with the marker `@pytest.mark.assistants_emulator(**kwargs)`: keyword arguments
go to `Emulator(...)`, except `snapshot=` (a path or data to load) and `script=` (a path to a
JSON script file).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .core import Emulator


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "assistants_emulator(**kwargs): options for the assistants_emulator fixture "
        "(Emulator keyword arguments, snapshot=..., script=...)",
    )


def build_emulator(options: dict[str, Any]) -> Emulator:
    """An emulator from marker options (shared by the fixture and by users' own fixtures)."""
    options = dict(options)
    snapshot = options.pop("snapshot", None)
    script = options.pop("script", None)
    emulator = Emulator(**options)
    if snapshot is not None:
        emulator.load(snapshot)
    if script is not None:
        from .responders import Script

        emulator.respond_with(Script.from_file(script))
    return emulator


@pytest.fixture
def assistants_emulator(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """A started `Emulator`, fresh for each test and stopped afterwards."""
    marker = request.node.get_closest_marker("assistants_emulator")
    emulator = build_emulator(marker.kwargs if marker else {})
    with emulator:
        yield emulator
