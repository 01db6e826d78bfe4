"""The README's Python blocks run, so they cannot drift from the code.

The convention (README "Development"): a ```python block defining `test_` functions is a test
file, run by pytest in a fresh project configured by the README's `filterwarnings` block, every
other warning an error; any other ```python block is a script, run as `__main__`. A block
preceded by `<!-- not-run: reason -->` is skipped with that reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

README = Path(__file__).resolve().parent.parent / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
NOT_RUN = re.compile(r"<!--\s*not-run:\s*(.*?)\s*-->\s*$", re.DOTALL)


@dataclass(frozen=True)
class Block:
    line: int
    language: str
    code: str
    not_run: str | None  # the reason, when marked

    @property
    def is_test_file(self) -> bool:
        return re.search(r"^(async )?def test_", self.code, re.MULTILINE) is not None


def blocks(text: str) -> list[Block]:
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip()
        marked = NOT_RUN.search(before[-400:])
        line = text.count("\n", 0, match.start()) + 1
        found.append(Block(line, match.group(1), match.group(2), marked and marked.group(1)))
    return found


TEXT = README.read_text(encoding="utf-8")
PYTHON = [b for b in blocks(TEXT) if b.language == "python"]
FILTERWARNINGS = next(b.code for b in blocks(TEXT) if "filterwarnings" in b.code)


def test_the_extractor_sees_fences_and_marks() -> None:
    sample = "x\n<!-- not-run: no server -->\n```python\nprint(1)\n```\n\n```python\nx = 2\n```\n"

    first, second = blocks(sample)

    assert (first.line, first.code, first.not_run) == (3, "print(1)\n", "no server")
    assert (second.code, second.not_run) == ("x = 2\n", None)


def test_the_readme_has_runnable_python_blocks() -> None:
    assert len([b for b in PYTHON if b.is_test_file and b.not_run is None]) >= 3
    assert "[tool.pytest.ini_options]" in FILTERWARNINGS


@pytest.mark.parametrize("block", PYTHON, ids=[f"README.md:{b.line}" for b in PYTHON])
def test_a_readme_block_runs(
    block: Block, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    if block.not_run is not None:
        pytest.skip(f"README.md:{block.line} is marked not-run: {block.not_run}")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-readme")
    if block.is_test_file:
        # deprecations are errors, but for the README's filters (later entries win)
        strict = FILTERWARNINGS.replace("filterwarnings = [", 'filterwarnings = [\n    "error",', 1)
        pytester.makepyprojecttoml(strict)
        pytester.makepyfile(**{f"test_readme_{block.line}": block.code})
        result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:hypothesispytest")
        outcomes = result.parseoutcomes()
        assert outcomes.get("passed", 0) >= 1 and set(outcomes) <= {"passed"}, result.stdout.str()
    else:
        monkeypatch.chdir(pytester.path)
        exec(compile(block.code, f"README.md:{block.line}", "exec"), {"__name__": "__main__"})
