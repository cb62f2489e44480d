"""Files written complete or not at all: a writer fills a hidden partial file beside the target,
which replaces the target only when the writer finished (and is removed if it failed), so a
reader, a resumed sweep or a build check never sees half a file."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def atomic_write(path: str | Path) -> Iterator[Path]:
    """The partial file to write; on a clean exit it becomes ``path``."""
    path = Path(path)
    partial = path.with_name(f".{path.name}.partial")
    try:
        yield partial
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(path)
