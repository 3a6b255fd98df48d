"""Write an activation store shard by shard; resume an interrupted write; refuse a mismatched one.

A store is created with its identity (source, dataset fingerprint, layers, pooling, dtype, shard size)
and an incomplete manifest. Each shard is written under a temporary name, fsynced and renamed, so a
shard that exists is complete. Reopening the same identity resumes: shards present on disk are kept.
The manifest is marked complete, with each shard's size and sha256, when the last shard is in.

`submit_shard` writes a shard on one background thread while the caller computes the next one; its
size and sha256 are taken as it is written, so `finalize` need not read it again.
"""

from __future__ import annotations

import datetime as _dt
import json
import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open

from probewise._version import __version__
from probewise.data.examples import Examples
from probewise.data.splits import SPLIT_NAMES
from probewise.errors import StoreError
from probewise.store import layout
from probewise.store.files import (
    StoreLock,
    read_json,
    save_tensors_atomic,
    sha256_file,
    write_bytes_atomic,
    write_json_atomic,
)


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _identity_diff(old: dict, new: dict) -> list[str]:
    diffs = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            diffs += [f"{key}.{k}: store has {a.get(k)!r}, asked {b.get(k)!r}"
                      for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        else:
            diffs.append(f"{key}: store has {a!r}, asked {b!r}")
    return diffs


class StoreWriter:
    """Creates or resumes the store at `root`. Use as a context manager: it holds the store's lock.

    Example:
        >>> # writer = StoreWriter(root, identity, examples); with writer: writer.write_shard(...)
    """

    def __init__(self, root: str | Path, identity: dict, examples: Examples, *, config: dict | None = None,
                 overwrite: bool = False) -> None:
        self.root = Path(root)
        self.identity = identity
        self.examples = examples
        self.config = config or {}
        self.overwrite = overwrite
        self.shard_size = int(identity["shard_size"])
        self.n = examples.n
        self.n_shards = (self.n + self.shard_size - 1) // self.shard_size
        self._lock = StoreLock(self.root)
        self.manifest: dict = {}
        self._executor: ThreadPoolExecutor | None = None
        self._inflight: Future | None = None
        self._digests: dict[int, tuple[int, str]] = {}  # shard → (bytes, sha256) of shards written here

    # -- lifecycle --------------------------------------------------------------------------------
    def __enter__(self) -> StoreWriter:
        manifest_path = self.root / layout.MANIFEST
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"{self.root} is a file, not a store folder; choose another --out path.")
        if self.root.is_dir() and not manifest_path.exists():
            leftovers = [p.name for p in self.root.iterdir() if p.name != ".lock"]
            if leftovers:
                raise StoreError(
                    f"{self.root} exists and is not a probewise store (it holds {leftovers[:3]}); "
                    "choose an empty or new --out folder."
                )
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock.acquire()
        try:
            if manifest_path.exists() and self.overwrite:
                self._clear()
            if manifest_path.exists():
                self._resume(read_json(manifest_path))
            else:
                self._create()
        except BaseException:
            self._lock.release()
            raise
        return self

    def __exit__(self, exc_type: type | None, *exc: object) -> None:
        try:
            self.join(raise_errors=exc_type is None)
        finally:
            self._lock.release()

    def attach(self) -> StoreWriter:
        """Join a store another rank of the same torchrun job has opened (and locked): read its manifest only."""
        self.manifest = read_json(self.root / layout.MANIFEST)
        return self

    def _clear(self) -> None:
        shutil.rmtree(self.root / layout.SHARD_DIR, ignore_errors=True)
        for name in (layout.MANIFEST, layout.EXAMPLES, layout.TEXTS):
            (self.root / name).unlink(missing_ok=True)

    def _create(self) -> None:
        (self.root / layout.SHARD_DIR).mkdir(exist_ok=True)
        ex = self.examples
        tensors = {"labels": torch.as_tensor(ex.labels, dtype=torch.int64),
                   "split": torch.as_tensor(ex.split, dtype=torch.int8)}
        group_names: list[str] | None = None
        if ex.groups is not None:
            group_names, codes = np.unique(np.asarray(ex.groups), return_inverse=True)
            group_names = [str(g) for g in group_names]
            tensors["groups"] = torch.as_tensor(codes, dtype=torch.int64)
        save_tensors_atomic(self.root / layout.EXAMPLES, tensors)
        if ex.modality == "text":
            write_bytes_atomic(self.root / layout.TEXTS,
                               "".join(json.dumps(t, ensure_ascii=False) + "\n" for t in ex.inputs).encode())
        self.manifest = {
            "format": layout.FORMAT,
            "schema_version": layout.SCHEMA_VERSION,
            "probewise_version": __version__,
            "complete": False,
            "created": _now(),
            "finished": None,
            "identity": self.identity,
            "dataset": {
                "name": ex.name,
                "n": ex.n,
                "classes": [c if isinstance(c, int | str) else str(c) for c in ex.classes],
                "modality": ex.modality,
                "split_counts": {s: int((ex.split == i).sum()) for i, s in enumerate(SPLIT_NAMES)},
                "group_names": group_names,
                "token_classes": None if ex.token_classes is None else list(ex.token_classes),
                **ex.meta,
            },
            "layers": list(self.identity["layers"]),
            "pooling": self.identity["pooling"],
            "dtype": self.identity["dtype"],
            "dims": {},
            "shards": [
                {"file": layout.shard_file(k), "start": k * self.shard_size,
                 "stop": min(self.n, (k + 1) * self.shard_size), "bytes": None, "sha256": None}
                for k in range(self.n_shards)
            ],
            "config": self.config,
        }
        write_json_atomic(self.root / layout.MANIFEST, self.manifest)

    def _resume(self, manifest: dict) -> None:
        if manifest.get("format") != layout.FORMAT:
            raise StoreError(f"{self.root / layout.MANIFEST} is not a probewise store manifest.")
        diffs = _identity_diff(manifest.get("identity", {}), self.identity)
        if diffs:
            raise StoreError(
                f"store {self.root} was written for another configuration ({'; '.join(diffs[:4])}). "
                "Use a new --out folder, or --overwrite to replace it."
            )
        self.manifest = manifest
        (self.root / layout.SHARD_DIR).mkdir(exist_ok=True)
        for tmp in (self.root / layout.SHARD_DIR).glob(".*.tmp-*"):
            tmp.unlink(missing_ok=True)  # half-written shards of a killed run

    # -- shards -----------------------------------------------------------------------------------
    def shard_ok(self, k: int) -> bool:
        """A shard counts as done if it exists under its final name and its header lists every layer."""
        path = self.root / layout.shard_file(k)
        if not path.exists():
            return False
        try:
            with safe_open(str(path), framework="pt") as f:
                keys = set(f.keys())
        except Exception:
            return False
        return all(layout.layer_key(name) in keys for name in self.manifest["layers"])

    def pending(self) -> list[int]:
        return [k for k in range(self.n_shards) if not self.shard_ok(k)]

    def shard_rows(self, k: int) -> range:
        s = self.manifest["shards"][k]
        return range(s["start"], s["stop"])

    def write_shard(self, k: int, tensors: dict[str, torch.Tensor]) -> None:
        """Write shard `k` now (tmp file, fsync, rename) and remember its size and sha256."""
        path = self.root / layout.shard_file(k)
        self._digests[k] = save_tensors_atomic(path, tensors,
                                               metadata={"start": str(self.manifest["shards"][k]["start"])})

    def submit_shard(self, k: int, tensors: dict[str, torch.Tensor]) -> None:
        """Write shard `k` on the background thread; the caller must not modify `tensors` afterwards.

        One shard is in flight at a time: this first waits for the previous one and raises its error
        (e.g. the `StoreError` of a full disk), so a failure surfaces at the next shard, or at `join`.
        """
        self.wait()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="probewise-store")
        self._inflight = self._executor.submit(self.write_shard, k, tensors)

    def wait(self) -> None:
        """Wait for the shard being written in the background, raising its error if it failed."""
        future, self._inflight = self._inflight, None
        if future is not None:
            future.result()

    def join(self, raise_errors: bool = True) -> None:
        """Wait for the background write and stop the thread. With `raise_errors=False` (already failing
        for another reason) a failed write is dropped: its temporary file is gone, the store stays consistent."""
        try:
            self.wait()
        except BaseException:
            if raise_errors:
                raise
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None

    def finalize(self) -> dict:
        """Record dims, sizes and checksums of every shard; mark the store complete."""
        self.join()
        missing = self.pending()
        if missing:
            raise StoreError(f"cannot finalize {self.root}: shards {missing[:5]} are missing.")
        dims = {}
        with safe_open(str(self.root / layout.shard_file(0)), framework="pt") as f:
            for name in self.manifest["layers"]:
                dims[name] = int(f.get_slice(layout.layer_key(name)).get_shape()[-1])
        for k, s in enumerate(self.manifest["shards"]):
            path = self.root / s["file"]
            size = path.stat().st_size
            known = self._digests.get(k)
            # shards written by this process were hashed as written; others (resumed, other ranks) are read
            s["bytes"], s["sha256"] = known if known and known[0] == size else (size, sha256_file(path))
        self.manifest["dims"] = dims
        self.manifest["complete"] = True
        self.manifest["finished"] = _now()
        write_json_atomic(self.root / layout.MANIFEST, self.manifest)
        return self.manifest
