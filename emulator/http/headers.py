"""A request's headers as the HTTP library received them, read only as far as they are used.

The SDK sends about fifteen headers and a request reads one or two (`authorization`, a file
upload's `content-type`); decoding them all into a dict, as `Headers.items()` does, was a fifth
of what the emulator spent on a simple request. `RawHeaders` keeps the raw bytes and decodes a
name when asked for it, or all of them when the request log is read.

The bytes are kept as one flat tuple (name, value, name, value, ...) rather than a tuple per
pair: the request log keeps every request's headers, and fifteen small containers a request
kept alive made the garbage collector run about twice as often in a workflow.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from itertools import chain


class RawHeaders(Mapping[str, str]):
    """Headers from `(name, value)` byte pairs, looked up by lower-case name, decoded as httpx
    decodes them (ASCII, else UTF-8, else Latin-1, the same for all) and repeated names joined
    with ", " (as `Headers.items()` joins them)."""

    __slots__ = ("_decoded", "_raw")

    def __init__(self, raw: Iterable[tuple[bytes, bytes]]) -> None:
        self._raw: tuple[bytes, ...] = tuple(chain.from_iterable(raw))
        self._decoded: dict[str, str] | None = None

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        if self._decoded is not None:
            return self._decoded.get(name, default)
        wanted, size = name.encode("latin-1"), len(name)
        found = [
            value for key, value in _pairs(self._raw) if len(key) == size and key.lower() == wanted
        ]
        if not found:
            return default
        if all(value.isascii() for value in found):  # ASCII reads the same in every encoding
            return ", ".join(value.decode("ascii") for value in found)
        return self._all().get(name, default)

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __repr__(self) -> str:
        return f"RawHeaders({self._all()!r})"

    def _all(self) -> dict[str, str]:
        if self._decoded is None:
            encoding = _encoding(self._raw)
            decoded: dict[str, str] = {}
            for key, value in _pairs(self._raw):
                name, text = key.lower().decode(encoding), value.decode(encoding)
                decoded[name] = f"{decoded[name]}, {text}" if name in decoded else text
            self._decoded = decoded
        return self._decoded


def _pairs(raw: tuple[bytes, ...]) -> Iterator[tuple[bytes, bytes]]:
    """The (name, value) pairs of a flat tuple."""
    items = iter(raw)
    return zip(items, items, strict=True)


def _encoding(raw: tuple[bytes, ...]) -> str:
    for encoding in ("ascii", "utf-8"):
        try:
            for item in raw:
                item.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    return "iso-8859-1"
