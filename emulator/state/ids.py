"""Deterministic object ids shaped like the real ones (`asst_` + 24 alphanumerics)."""

from __future__ import annotations

import random
import string
import threading

_ALPHABET = string.ascii_letters + string.digits
# Random bytes become alphanumerics in one C call (byte n is _ALPHABET[n % 62]): five times
# faster than `random.choices`, and ids need only look random.
_TO_ALPHABET = bytes.maketrans(bytes(range(256)), bytes(ord(_ALPHABET[n % 62]) for n in range(256)))


class IdGenerator:
    """Seeded id source: the same seed and the same sequence of calls give the same ids.

    An id is one `getrandbits` call (C, so atomic under the GIL: threads need no lock to draw),
    its bytes the ones `randbytes` gives."""

    def __init__(self, seed: int | str = 0) -> None:
        self.seed = seed
        self._random = random.Random(seed)
        # Request ids draw from their own stream so that polling does not shift object ids.
        self._request_random = random.Random(f"requests:{seed}")
        self._bits, self._request_bits = self._random.getrandbits, self._request_random.getrandbits
        self._lock = threading.Lock()  # for the state of both streams, read or set together

    def new(self, prefix: str) -> str:
        """A fresh id such as `msg_` followed by 24 alphanumerics."""
        suffix = self._bits(192).to_bytes(24, "little").translate(_TO_ALPHABET).decode("ascii")
        return f"{prefix}_{suffix}"

    def request_id(self) -> str:
        """An `x-request-id` value: `req_` and 32 hex digits."""
        return f"req_{self._request_bits(128).to_bytes(16, 'little').hex()}"

    def get_state(self) -> tuple[object, object]:
        """The state of the object-id and request-id streams, for snapshots."""
        with self._lock:
            return self._random.getstate(), self._request_random.getstate()

    def set_state(self, state: tuple[object, object]) -> None:
        objects, requests = state
        with self._lock:
            self._random.setstate(objects)  # type: ignore[arg-type]
            self._request_random.setstate(requests)  # type: ignore[arg-type]
