"""Read an activation store: one layer at a time, by split, memory-mapped, or streamed shard by shard.

Example:
    >>> # store = open_store("runs/sst2-minilm")
    >>> # X = store.read(3, split="train")        # [n_train, d] float32
    >>> # for X, idx in store.iter_batches(3): ...  # one shard in memory at a time
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from probewise.data.splits import SPLIT_NAMES
from probewise.errors import StoreError
from probewise.store import layout
from probewise.store.files import read_json, sha256_file
from probewise.store.ragged import Ragged


def _split_code(split: str | int | None) -> int | None:
    if split is None or isinstance(split, int):
        return split
    aliases = {"validation": "val", "dev": "val"}
    name = aliases.get(split, split)
    if name not in SPLIT_NAMES:
        raise StoreError(f"unknown split {split!r}; use train, val or test.")
    return SPLIT_NAMES.index(name)


class Store:
    """A finished activation store on disk.

    Attributes:
        root, manifest, layers (list[str]), n, classes, labels `[n]` int64, split `[n]` int8,
        groups `[n]` int64 or None, pooling, dtype, dims (layer → d).
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        mpath = self.root / layout.MANIFEST
        if not mpath.exists():
            if not self.root.exists():
                raise StoreError(f"store {self.root} does not exist. Create it with `probewise extract`.")
            raise StoreError(f"{self.root} is not a probewise store (no {layout.MANIFEST}).")
        m = read_json(mpath)
        if m.get("format") != layout.FORMAT:
            raise StoreError(f"{mpath} is not a probewise store manifest.")
        if m.get("schema_version") != layout.SCHEMA_VERSION:
            raise StoreError(
                f"store {self.root} has schema version {m.get('schema_version')}, this probewise reads "
                f"{layout.SCHEMA_VERSION}. Re-extract it with this version."
            )
        if not m.get("complete"):
            raise StoreError(
                f"store {self.root} is incomplete (its extraction was interrupted). Rerun the same "
                "`probewise extract` command: it resumes where it stopped."
            )
        self.manifest = m
        for s in m["shards"]:
            path = self.root / s["file"]
            if not path.exists():
                raise StoreError(
                    f"store {self.root} is missing shard {s['file']}. Rerun the same `probewise extract` "
                    "command to recompute it."
                )
            if s.get("bytes") is not None and path.stat().st_size != s["bytes"]:
                raise StoreError(
                    f"shard {s['file']} of {self.root} has {path.stat().st_size} bytes, the manifest says "
                    f"{s['bytes']}: it is truncated or corrupted. Delete it and rerun the same "
                    "`probewise extract` command to recompute it."
                )
        ex = load_file(str(self.root / layout.EXAMPLES))
        self.labels: np.ndarray = ex["labels"].numpy()
        self.split: np.ndarray = ex["split"].numpy()
        self.groups: np.ndarray | None = ex["groups"].numpy() if "groups" in ex else None

    # -- metadata ---------------------------------------------------------------------------------
    @property
    def layers(self) -> list[str]:
        return list(self.manifest["layers"])

    @property
    def n(self) -> int:
        return int(self.manifest["dataset"]["n"])

    @property
    def classes(self) -> list:
        return list(self.manifest["dataset"]["classes"])

    @property
    def pooling(self) -> str:
        return self.manifest["pooling"]

    @property
    def dtype(self) -> str:
        return self.manifest["dtype"]

    @property
    def dims(self) -> dict[str, int]:
        return dict(self.manifest["dims"])

    @property
    def source(self) -> dict:
        return dict(self.manifest["identity"]["source"])

    def __repr__(self) -> str:
        return (f"Store({str(self.root)!r}, n={self.n}, layers={self.layers}, pooling={self.pooling!r}, "
                f"model={self.source.get('model')!r})")

    def texts(self, split: str | int | None = None) -> list[str] | None:
        """The raw texts of a text store (None for other modalities or stores written before texts were kept)."""
        path = self.root / layout.TEXTS
        if not path.exists():
            return None
        with path.open(encoding="utf-8") as f:
            texts = [json.loads(line) for line in f]
        return [texts[i] for i in self.indices(split)]

    def resolve_layer(self, layer: int | str) -> str:
        """Map 3, "3" or -1 (the last stored layer) to a stored layer name."""
        name = str(layer)
        if name in self.layers:
            return name
        if isinstance(layer, int) and layer < 0 and -len(self.layers) <= layer:
            return self.layers[layer]
        raise StoreError(f"layer {layer!r} is not in store {self.root}; it holds layers {self.layers}.")

    def select_layers(self, spec: str | Sequence[int | str] | None = None) -> list[str]:
        """Stored layer names from a request, as ``--layers`` takes it in ``extract`` and ``sweep``.

        ``None``/``"all"``: every layer; otherwise a comma list (or a sequence) of stored names, indices (negative
        count from the last stored layer), inclusive ranges ``"2-5"`` of numeric names, or globs (``"*Add"``).

        Example:
            >>> # store.layers == ["0", "1", ..., "6"]
            >>> # store.select_layers("0,2-4,-1") == ["0", "2", "3", "4", "6"]
        """
        if spec is None or (isinstance(spec, str) and spec.strip() == "all"):
            return list(self.layers)
        items = [x.strip() for x in spec.split(",")] if isinstance(spec, str) else list(spec)
        out: list[str] = []
        for item in items:
            if item == "" or item is None:
                continue
            text = str(item).strip()
            if text in self.layers:
                out.append(text)
            elif re.fullmatch(r"-?\d+", text):
                out.append(self.resolve_layer(int(text) if int(text) < 0 else text))
            elif m := re.fullmatch(r"(\d+)-(\d+)", text):
                wanted = [str(i) for i in range(int(m[1]), int(m[2]) + 1)]
                missing = [w for w in wanted if w not in self.layers]
                if missing or not wanted:
                    raise StoreError(f"layer range {text!r}: layers {missing or wanted} are not in store {self.root}; "
                                     f"it holds layers {self.layers}.")
                out += wanted
            elif any(c in text for c in "*?["):
                hits = [n for n in self.layers if fnmatch.fnmatchcase(n, text)]
                if not hits:
                    raise StoreError(f"layer pattern {text!r} matches no layer of store {self.root}; it holds "
                                     f"layers {self.layers}.")
                out += hits
            else:
                self.resolve_layer(text)  # raises, naming the layers the store holds
        if not out:
            raise StoreError(f"--layers {spec!r} names no layer; store {self.root} holds layers {self.layers}.")
        return list(dict.fromkeys(out))

    def indices(self, split: str | int | None = None) -> np.ndarray:
        code = _split_code(split)
        return np.arange(self.n) if code is None else np.flatnonzero(self.split == code)

    # -- reading ----------------------------------------------------------------------------------
    def _shards(self):
        for s in self.manifest["shards"]:
            yield s, str(self.root / s["file"])

    def read(self, layer: int | str, split: str | int | None = None, *, dtype: torch.dtype = torch.float32
             ) -> torch.Tensor:
        """Pooled representations of one layer, `[n_split, d]`, in dataset order."""
        if self.pooling == "tokens":
            raise StoreError("this store keeps all tokens; use read_tokens(), or pool with read_pooled().")
        parts = [X for X, _ in self.iter_batches(layer, split, dtype=dtype)]
        d = self.dims[self.resolve_layer(layer)]
        return torch.cat(parts) if parts else torch.empty(0, d, dtype=dtype)

    def iter_batches(self, layer: int | str, split: str | int | None = None, *, dtype: torch.dtype = torch.float32,
                     max_rows: int | None = None) -> Iterator[tuple[torch.Tensor, np.ndarray]]:
        """Stream `(X [rows, d], dataset indices [rows])` one shard at a time (pooled stores).

        `max_rows` bounds memory below a shard: each shard is then read in row ranges of at most that many
        rows (only those bytes are read), and each batch holds that range's rows of the split.
        """
        key = layout.layer_key(self.resolve_layer(layer))
        code = _split_code(split)
        for s, path in self._shards():
            step = (s["stop"] - s["start"]) if max_rows is None else max(1, int(max_rows))
            with safe_open(path, framework="pt") as f:
                for a in range(s["start"], s["stop"], step):
                    rows = np.arange(a, min(a + step, s["stop"]))
                    keep = rows if code is None else rows[self.split[rows] == code]
                    if len(keep) == 0:
                        continue
                    if max_rows is None:
                        X = f.get_tensor(key)
                    else:
                        X = f.get_slice(key)[rows[0] - s["start"]:rows[-1] + 1 - s["start"]]
                    if code is not None:
                        X = X[torch.as_tensor(keep - rows[0])]
                    yield X.to(dtype), keep

    def read_tokens(self, layer: int | str, split: str | int | None = None, *, dtype: torch.dtype = torch.float32
                    ) -> Ragged:
        """All token representations of one layer (pooling 'tokens' stores) as a `Ragged` in dataset order."""
        return self._read_ragged(layout.layer_key(self.resolve_layer(layer)), split, dtype)

    def read_token_ids(self, split: str | int | None = None) -> Ragged:
        return self._read_ragged("token_ids", split, None)

    def read_token_labels(self, split: str | int | None = None) -> Ragged:
        """Per-token labels (-100 = ignored) of a store extracted from word-labelled data."""
        return self._read_ragged("token_labels", split, None)

    @property
    def token_classes(self) -> list | None:
        return self.manifest["dataset"].get("token_classes")

    def _read_ragged(self, key: str, split, dtype) -> Ragged:
        if self.pooling != "tokens":
            raise StoreError(f"store {self.root} holds pooled vectors ({self.pooling}); read() them instead.")
        code = _split_code(split)
        parts: list[torch.Tensor] = []
        for s, path in self._shards():
            with safe_open(path, framework="pt") as f:
                if key not in f.keys():
                    raise StoreError(f"store {self.root} has no {key!r} tensors.")
                values, offsets = f.get_tensor(key), f.get_tensor("offsets")
            for j, i in enumerate(range(s["start"], s["stop"])):
                if code is None or self.split[i] == code:
                    seq = values[offsets[j] : offsets[j + 1]]
                    parts.append(seq.to(dtype) if dtype is not None else seq)
        return Ragged.from_list(parts)

    def read_pooled(self, layer: int | str, split: str | int | None = None, how: str = "mean") -> torch.Tensor:
        """Pool a tokens store on the fly: `[n_split, d]`."""
        from probewise.sources.pooling import pool

        x, mask = self.read_tokens(layer, split).padded()
        return pool(x, mask, how)

    def verify(self) -> None:
        """Check every shard against the sha256 in the manifest; raise naming the first bad shard."""
        for s, path in self._shards():
            if s.get("sha256") and sha256_file(Path(path)) != s["sha256"]:
                raise StoreError(
                    f"shard {s['file']} of {self.root} fails its checksum (corrupted on disk). Delete it and "
                    "rerun the same `probewise extract` command to recompute it."
                )


def open_store(root: str | Path, *, verify: bool = False) -> Store:
    """Open a finished store; `verify=True` also checks every shard's sha256."""
    store = Store(root)
    if verify:
        store.verify()
    return store
