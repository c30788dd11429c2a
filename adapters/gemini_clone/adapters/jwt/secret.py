"""The secret that signs access tokens, kept in a file when none is configured."""

from __future__ import annotations

import logging
import os
import secrets
import stat
import tempfile
from pathlib import Path

_log = logging.getLogger(__name__)


def load_or_create_secret(path: Path) -> tuple[str, bool]:
    """The secret stored at `path`, created on first use: `(secret, created)`.

    - An existing file is read as it is, surrounding whitespace dropped. An empty one is an
      error, not replaced: a new secret would sign everyone out.
    - A new secret is `secrets.token_urlsafe(48)` (384 bits), written with mode 0600; a missing
      folder is created with mode 0700.
    - The new file is written aside and linked into place, so processes starting together
      (web and worker) never read half a secret and all end up with the same one.
    """
    try:
        return _read(path), False
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(secret + "\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return _read(path), False
    finally:
        os.unlink(temporary)
    return secret, True


def _read(path: Path) -> str:
    secret = path.read_text(encoding="utf-8").strip()
    if not secret:
        raise ValueError(f"{path} is empty: write a secret in it, or delete it to generate one.")
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        _log.warning("%s can be read by other users; restrict it with chmod 600.", path)
    return secret
