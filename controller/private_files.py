"""Files only the machine's own user may read: database, WAL, SHM, secret, simulated world.

Created with mode 0600 whatever the umask (``os.open`` with an explicit
mode; the umask can only take bits away), and tightened to 0600 when an
older version left them readable by others.  SQLite creates the WAL and SHM
files with the database file's own mode, so a private database has private
companions.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

PRIVATE_MODE = 0o600
DB_COMPANIONS = ("", "-wal", "-shm", "-journal")


def tighten(path: Path) -> None:
    """Take away every group and other permission of an existing file."""
    with contextlib.suppress(FileNotFoundError):
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if mode & 0o077:
            os.chmod(path, mode & 0o700)


def create_private(path: Path) -> None:
    """Make sure ``path`` exists and is private (an empty file if it was missing)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE))
    tighten(path)


def private_database(path: Path) -> None:
    """Before SQLite opens ``path``: the database and its companions private."""
    if str(path) == ":memory:" or str(path).startswith("file:"):
        return
    create_private(path)
    for suffix in DB_COMPANIONS[1:]:
        tighten(path.with_name(path.name + suffix))


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temp file, fsync, rename), mode 0600."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    try:
        os.fchmod(fd, PRIVATE_MODE)  # a temp file left by an older version may be wider
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            fd = -1
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
    finally:
        if fd >= 0:
            os.close(fd)
    os.replace(tmp, path)
