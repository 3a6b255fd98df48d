"""Atomic file writes, checksums and the writer lock of a store.

Example:
    >>> import tempfile, pathlib
    >>> from probewise.store.files import write_json_atomic, read_json
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.json"
    >>> write_json_atomic(p, {"a": 1}); read_json(p)
    {'a': 1}
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
from pathlib import Path

from probewise.errors import StoreError


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def disk_error(path: Path, e: OSError) -> StoreError:
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return StoreError(
            f"disk full while writing {path}. Free space and rerun the same command: finished shards are "
            "kept and only the missing ones are computed."
        )
    return StoreError(f"could not write {path}: {e}")


def commit_file(tmp: Path, final: Path) -> None:
    """fsync `tmp` and rename it over `final`: a file that exists under its final name is complete."""
    try:
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, final)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise disk_error(final, e) from e
    _fsync_dir(final.parent)


def save_tensors_atomic(path: Path, tensors: dict, metadata: dict[str, str] | None = None) -> None:
    """Write a safetensors file under a temporary name, then commit it (see `commit_file`)."""
    from safetensors.torch import save_file

    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp), metadata=metadata)
    except Exception as e:  # safetensors reports I/O failures (ENOSPC included) as its own error type
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise disk_error(path, e) from e
        if "No space left" in str(e) or "os error 28" in str(e):
            raise disk_error(path, OSError(errno.ENOSPC, str(e))) from e
        raise
    commit_file(tmp, path)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(data)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise disk_error(path, e) from e
    commit_file(tmp, path)


def write_json_atomic(path: Path, obj: object) -> None:
    write_bytes_atomic(path, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise StoreError(f"{path} is not valid JSON ({e}); the file is corrupted.") from e


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


class StoreLock:
    """An exclusive advisory lock on `<store>/.lock`; the OS releases it if the process dies (even kill -9)."""

    def __init__(self, root: Path) -> None:
        self.path = root / ".lock"
        self._fd: int | None = None

    def acquire(self) -> StoreLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            finally:
                os.close(fd)
            raise StoreError(
                f"store {self.path.parent} is being written by another process (pid {holder}). Wait for it to "
                "finish, or write to another --out folder."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> StoreLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
