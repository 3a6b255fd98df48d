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
import struct
import sys
from pathlib import Path

import torch

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


def _discard(tmp: Path) -> None:
    """Remove a temporary file after a failed write; the failure being reported matters more than this one."""
    try:
        tmp.unlink(missing_ok=True)
    except OSError:
        pass


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
        _discard(tmp)
        raise disk_error(final, e) from e
    _fsync_dir(final.parent)


def _tensor_bytes(t: torch.Tensor) -> memoryview:
    """The raw bytes of a contiguous CPU tensor, without a copy."""
    return memoryview(t.reshape(-1).view(torch.uint8).numpy())


def safetensors_digest(path: Path, tensors: dict[str, torch.Tensor]) -> tuple[int, str]:
    """(size, sha256) of the safetensors file at `path` that was just written from `tensors`.

    Only the header is read back: the data section is hashed from the tensors' memory, in the order
    the header lays it out, so the file's bytes are not read a second time. Falls back to reading the
    whole file if the layout is not the expected one (or on a big-endian machine).
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        prefix = f.read(8)
        n = struct.unpack("<Q", prefix)[0] if len(prefix) == 8 else -1
        head = f.read(n) if 0 <= n <= size - 8 else b""
    try:
        spans = sorted((v["data_offsets"][0], v["data_offsets"][1], k) for k, v in json.loads(head).items()
                       if k != "__metadata__")
    except (ValueError, KeyError, TypeError, IndexError):
        spans = None
    if spans is None or sys.byteorder != "little" or {k for *_, k in spans} != set(tensors):
        return size, sha256_file(path)
    h = hashlib.sha256(prefix + head)
    pos = 0
    for start, stop, key in spans:
        t = tensors[key]
        if start != pos or t.device.type != "cpu" or not t.is_contiguous() or t.nbytes != stop - start:
            return size, sha256_file(path)
        if t.nbytes:
            h.update(_tensor_bytes(t))
        pos = stop
    if 8 + n + pos != size:
        return size, sha256_file(path)
    return size, h.hexdigest()


def save_tensors_atomic(path: Path, tensors: dict, metadata: dict[str, str] | None = None) -> tuple[int, str]:
    """Write a safetensors file under a temporary name, then commit it (see `commit_file`).

    Returns the file's size and sha256 (see `safetensors_digest`).
    """
    from safetensors.torch import save_file

    tensors = {k: v.contiguous() for k, v in tensors.items()}
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        save_file(tensors, str(tmp), metadata=metadata)
        digest = safetensors_digest(tmp, tensors)
    except Exception as e:  # safetensors reports I/O failures (ENOSPC included) as its own error type
        _discard(tmp)
        if isinstance(e, OSError):
            raise disk_error(path, e) from e
        if "No space left" in str(e) or "os error 28" in str(e):
            raise disk_error(path, OSError(errno.ENOSPC, str(e))) from e
        if "os error" in str(e):  # any other I/O failure inside safetensors (missing folder, read-only, ...)
            raise disk_error(path, OSError(str(e))) from e
        raise
    commit_file(tmp, path)
    return digest


def write_bytes_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(data)
    except OSError as e:
        _discard(tmp)
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
