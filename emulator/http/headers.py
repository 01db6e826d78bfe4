"""A request's headers as the HTTP library received them, read only as far as they are used.

The SDK sends about fifteen headers and a request reads one or two (`authorization`, a file
upload's `content-type`); decoding them all into a dict, as `Headers.items()` does, was a fifth
of what the emulator spent on a simple request. `RawHeaders` keeps the raw bytes and decodes a
name when asked for it, or all of them when the request log is read.

The bytes are kept as one flat tuple (name, lower-case name, value, name, ...): a lookup is a
search of its lower-case names, in C (`RawHeaders.of` takes those names from the HTTP library,
which already keeps them). The request log keeps `packed()`, one bytes object, not the headers:
they would keep alive every byte string the library made for them, about 3 KB a request.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from itertools import chain
from typing import Any


class RawHeaders(Mapping[str, str]):
    """Headers from `(name, value)` byte pairs, looked up by lower-case name, decoded as httpx
    decodes them (ASCII, else UTF-8, else Latin-1, the same for all) and repeated names joined
    with ", " (as `Headers.items()` joins them)."""

    __slots__ = ("_decoded", "_flat")

    def __init__(self, raw: Iterable[tuple[bytes, bytes]]) -> None:
        self._flat: tuple[bytes, ...] = tuple(
            chain.from_iterable((key, key.lower(), value) for key, value in raw)
        )
        self._decoded: dict[str, str] | None = None

    @classmethod
    def of(cls, headers: Any) -> RawHeaders:
        """The headers of an httpx or httpx2 request, with the lower-case names the library
        keeps (its `(raw, lower, value)` list), else from its `raw` pairs."""
        triples = getattr(headers, "_list", None)
        if not isinstance(triples, list):
            return cls(headers.raw)
        return cls._from_flat(tuple(chain.from_iterable(triples)))

    def packed(self) -> bytes | tuple[bytes, ...]:
        """The headers for the request log (`unpack` reads them back): their bytes as kept,
        joined by newlines into one bytes object (a single C call), unless a header holds a
        newline."""
        flat = self._flat
        joined = b"\n".join(flat)
        return joined if flat and joined.count(b"\n") == len(flat) - 1 else flat

    @classmethod
    def unpack(cls, packed: bytes | tuple[bytes, ...]) -> RawHeaders:
        """The headers `packed()` kept."""
        return cls._from_flat(tuple(packed.split(b"\n")) if isinstance(packed, bytes) else packed)

    @classmethod
    def _from_flat(cls, flat: tuple[bytes, ...]) -> RawHeaders:
        """Headers from their bytes laid out as kept: (name, lower-case name, value, ...)."""
        made = cls.__new__(cls)
        made._flat = flat
        made._decoded = None
        return made

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        if self._decoded is not None:
            return self._decoded.get(name, default)
        names = self._flat[1::3]
        wanted = name.encode("latin-1")
        found = names.count(wanted)
        if not found:
            return default
        if found == 1:
            value = self._flat[3 * names.index(wanted) + 2]
            if value.isascii():  # ASCII reads the same in every encoding
                return value.decode("ascii")
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
            flat = self._flat
            encoding = _encoding(flat)
            decoded: dict[str, str] = {}
            for key, value in zip(flat[1::3], flat[2::3], strict=True):
                name, text = key.decode(encoding), value.decode(encoding)
                decoded[name] = f"{decoded[name]}, {text}" if name in decoded else text
            self._decoded = decoded
        return self._decoded


def _encoding(flat: tuple[bytes, ...]) -> str:
    for encoding in ("ascii", "utf-8"):
        try:
            for item in flat:
                item.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    return "iso-8859-1"
