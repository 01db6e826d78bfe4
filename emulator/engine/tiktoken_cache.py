"""Make `tiktoken.get_encoding(...)` work offline for everyone in the process, not only for the
emulator: the bundled rank files are written into tiktoken's own cache directory.

tiktoken downloads each rank file from `openaipublic.blob.core.windows.net` on first use and
keeps it in a cache directory under the name `sha1(url)` (tiktoken/load.py,
`read_file_cached`): `$TIKTOKEN_CACHE_DIR`, else `$DATA_GYM_CACHE_DIR`, else
`<tempdir>/data-gym-cache`. A file already there with the right sha256 is used without any
network access, so filling the cache is all it takes.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import uuid
from pathlib import Path

from .tokens import bundled_encodings, rank_file, rank_file_sha256

__all__ = ["cache_directory", "offline_tiktoken"]

URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"


def cache_directory() -> Path | None:
    """The directory tiktoken reads its cache from (None: caching is disabled, `""`)."""
    for variable in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if variable in os.environ:
            value = os.environ[variable]
            return Path(value) if value else None
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def offline_tiktoken(cache_dir: str | Path | None = None) -> Path:
    """Fill tiktoken's cache with the bundled encodings (`o200k_base`, `cl100k_base`) so that
    `tiktoken.get_encoding(...)` and `encoding_for_model(...)` never download them.

    `cache_dir` given: use it and set `TIKTOKEN_CACHE_DIR` to it for this process. Otherwise
    tiktoken's own choice; if caching is disabled (`TIKTOKEN_CACHE_DIR=""`) a fresh temporary
    directory is used and set. Files already there with the right content are kept. Returns
    the directory.
    """
    directory = Path(cache_dir) if cache_dir is not None else cache_directory()
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="tiktoken-cache-"))
    if cache_dir is not None or os.environ.get("TIKTOKEN_CACHE_DIR") == "":
        os.environ["TIKTOKEN_CACHE_DIR"] = str(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name in bundled_encodings():
        target = directory / hashlib.sha1(URL.format(name=name).encode()).hexdigest()
        sha256 = rank_file_sha256(name)
        if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == sha256:
            continue
        partial = target.with_name(f"{target.name}.{uuid.uuid4().hex}.tmp")
        partial.write_bytes(rank_file(name))
        partial.replace(target)  # atomic: a concurrent reader sees the whole file or none
    return directory
