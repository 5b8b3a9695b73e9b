"""Writing and reading files so that nothing is lost or leaked: atomic replacement, containment checks.

Every file nnzoo writes into a run or report folder goes through :func:`replacing` (or :func:`write_atomic`): a
temporary file created exclusively in the same folder (it cannot be a planted symlink), flushed to disk, then renamed
over the target. A reader sees the old file or the new one, never half of one, and a kill leaves at most a
``.NAME.*.tmp`` file, which :func:`remove_temporaries` clears.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TEMPORARY_GLOB = ".*.tmp"  # what replacing() leaves behind when its process is killed mid-write


@contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """A fresh temporary path beside ``path`` to write to; when the block ends without an error it replaces
    ``path`` atomically (fsync of the file, rename, fsync of the folder). A symlink at ``path`` is replaced, not
    followed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    temporary = Path(name)
    try:
        yield temporary
        with temporary.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def write_atomic(path: str | Path, content: str | bytes) -> Path:
    """Write ``content`` (text as UTF-8) to ``path`` through :func:`replacing`."""
    with replacing(path) as temporary:
        temporary.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return Path(path)


def remove_temporaries(folder: str | Path) -> list[Path]:
    """Delete what killed writes left in ``folder`` (call it only while no one else writes there); return them."""
    found = [path for path in Path(folder).glob(TEMPORARY_GLOB) if path.is_file() and not path.is_symlink()]
    for path in found:
        path.unlink(missing_ok=True)
    return found


def contained_file(root: str | Path, name: str | Path) -> Path | None:
    """``root / name`` if it is a regular file inside ``root`` with no symlink on the way; else None.

    This is how files named by a folder's own content (a ``results.json`` listing figures) are opened: an absolute
    name, a ``..`` or a symlink pointing elsewhere cannot reach a file outside the folder.
    """
    if not isinstance(name, (str, Path)):  # a crafted file may list anything
        return None
    root = Path(root)
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        return None
    path = root
    for part in relative.parts:
        path = path / part
        if path.is_symlink():
            return None
    return path if path.is_file() else None


def _fsync_folder(folder: Path) -> None:
    if os.name == "nt":  # Windows cannot open a folder for fsync; its renames are durable through the journal
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
