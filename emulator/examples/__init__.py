"""Example scripts and snapshots shipped with the package, and the script format's JSON Schema.

- `support_bot_script.json`, `support_bot_retry_script.json`: scripts (replies as data);
- `support_bot_expired.json`: a snapshot of a support conversation whose run expired while
  waiting for tool outputs; `long_thread_near_limit.json`: a long thread near the context
  limit of a small registered model (both rebuilt byte for byte by `fixtures/make_fixtures.py`);
- `script.schema.json`: the JSON Schema of script files (`engine/scripts.py` reads them).

Wherever a script or snapshot path is taken (`--responder`, `--fixture`, the pytest marker's
`script=` and `snapshot=`), `examples/NAME` names one of these files when no such file exists
locally, so `--responder examples/support_bot_script.json` works from any directory.
"""

from __future__ import annotations

from pathlib import Path

DIRECTORY = Path(__file__).resolve().parent
PREFIX = "examples/"

__all__ = ["DIRECTORY", "path", "resolve"]


def path(name: str) -> Path:
    """The shipped example file `name` (`FileNotFoundError` lists the ones there are)."""
    found = DIRECTORY / name
    if found.suffix != ".json" or not found.is_file() or found.parent != DIRECTORY:
        shipped = ", ".join(sorted(p.name for p in DIRECTORY.glob("*.json")))
        raise FileNotFoundError(f"no example {name!r}; the package ships {shipped}")
    return found


def resolve(given: str | Path) -> Path:
    """`given` as a path; `examples/NAME` missing locally is the shipped example NAME."""
    local = Path(given)
    text = str(given).replace("\\", "/")
    if local.exists() or not text.startswith(PREFIX):
        return local
    return path(text[len(PREFIX) :])
