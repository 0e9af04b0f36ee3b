"""Secrets the launcher keeps in the data folder between runs, each in a file only its owner reads.

The embedded run has no secret manager: the gateway's ``SECRETS_KEY`` (which seals its signing
keys) is made once and kept in ``<data dir>/gateway/``, so the keys sealed with it still open
after a restart. The data folder is git-ignored; the files are mode 0600 in a 0700 folder.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from pathlib import Path

SECRETS_KEY_BYTES = 32


class PrivateFileError(Exception):
    """A kept secret is unreadable or malformed; the message says which file."""


def service_folder(data_dir: Path, service: str) -> Path:
    """``<data dir>/<service>``, created private (0700) if missing: where a service's kept files go."""
    folder = data_dir / service
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def create_private_file(path: Path, content: str) -> bool:
    """Write ``path`` (mode 0600) unless it exists; whether it was written.

    Written aside and linked into place, so a reader never sees half a file and two launchers
    racing keep the first one's content.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    aside = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(aside, path)
        except FileExistsError:
            return False
    finally:
        aside.unlink(missing_ok=True)
    return True


def read_private_file(path: Path) -> str:
    """The content of a kept file, after making sure no one but its owner may read it."""
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            # Someone loosened it (a copy, an archive): tighten rather than keep it readable.
            path.chmod(0o600)
        return path.read_text()
    except OSError as exc:
        raise PrivateFileError(f"cannot read {path}: {exc.strerror}") from exc


def gateway_secrets_key(data_dir: Path) -> str:
    """The gateway's ``SECRETS_KEY`` (32 bytes, base64), made on the first call and kept."""
    path = service_folder(data_dir, "gateway") / "secrets_key"
    if not path.exists():
        generated = base64.b64encode(os.urandom(SECRETS_KEY_BYTES)).decode()
        create_private_file(path, generated + "\n")
    value = read_private_file(path).strip()
    try:
        valid = len(base64.b64decode(value, validate=True)) == SECRETS_KEY_BYTES
    except (binascii.Error, ValueError):
        valid = False
    if not valid:
        raise PrivateFileError(
            f"{path} does not hold a {SECRETS_KEY_BYTES}-byte base64 key; restore it from a "
            "backup (the gateway's signing keys are sealed with it)"
        )
    return value
