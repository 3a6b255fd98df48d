"""`Examples`: inputs (texts, image paths or arrays) with labels, split and groups, ready for extraction.

Example:
    >>> from probewise.data.examples import Examples
    >>> ex = Examples.from_lists(["good film", "bad film"] * 10, ["pos", "neg"] * 10, seed=0)
    >>> ex.n, ex.classes, ex.modality
    (20, ('neg', 'pos'), 'text')
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from probewise.data.labels import encode_labels, is_missing
from probewise.data.splits import check_split_classes, complete_split, split_from_column, stratified_split
from probewise.errors import DataError


@dataclass
class Examples:
    """A labelled dataset for extraction.

    Attributes:
        inputs: texts (`list[str]`), image file paths (`list[str]`, modality "image") or an array
            `[n, ...]` (modality "tensor", fed to an `nn.Module` as is).
        labels: int64 class codes `[n]`.
        classes: class names, index = code.
        split: int8 `[n]`, 0 train / 1 val / 2 test.
        groups: optional group ids `[n]` (subjects, documents) for group-aware protocols.
        name: a short name for reports.
    """

    inputs: Sequence | np.ndarray
    labels: np.ndarray
    classes: tuple
    split: np.ndarray
    modality: str = "text"
    groups: np.ndarray | None = None
    name: str = "dataset"
    meta: dict = field(default_factory=dict)
    word_labels: list[list[int]] | None = None
    token_classes: tuple | None = None

    def __post_init__(self) -> None:
        n = len(self.inputs)
        if n == 0:
            raise DataError("the dataset is empty: no rows to extract. Check the file and its filters.")
        if len(self.labels) != n or len(self.split) != n:
            raise DataError(
                f"inputs ({n}), labels ({len(self.labels)}) and split ({len(self.split)}) differ in length."
            )
        if self.groups is not None and len(self.groups) != n:
            raise DataError(f"inputs ({n}) and groups ({len(self.groups)}) differ in length.")
        if self.modality == "text":
            _check_texts(self.inputs)
        if self.word_labels is not None:
            if self.modality != "text" or len(self.word_labels) != n:
                raise DataError("word_labels need text inputs and one label list per example.")
            for i, (text, labs) in enumerate(zip(self.inputs, self.word_labels, strict=True)):
                if len(text.split()) != len(labs):
                    raise DataError(f"row {i}: {len(text.split())} words but {len(labs)} word labels; give one label "
                                    "per whitespace-separated word (-100 to ignore a word).")
        check_split_classes(self.labels, self.split)

    @property
    def n(self) -> int:
        return len(self.inputs)

    @classmethod
    def from_lists(
        cls,
        inputs: Sequence,
        labels: Sequence,
        split: Sequence | None = None,
        groups: Sequence | None = None,
        *,
        modality: str = "text",
        name: str = "dataset",
        val_frac: float = 0.15,
        test_frac: float = 0.15,
        seed: int = 0,
    ) -> Examples:
        """Build from raw lists; labels are encoded, the split is stratified with `seed` unless given."""
        codes, classes = encode_labels(labels)
        if len(codes) != len(inputs):
            raise DataError(f"{len(inputs)} inputs but {len(codes)} labels.")
        meta: dict = {"val_frac": val_frac, "test_frac": test_frac}
        if split is None:
            sp = stratified_split(codes, val_frac, test_frac, seed, class_names=classes)
            meta["split_seed"] = seed
        else:
            if len(split) != len(codes):
                raise DataError(f"{len(codes)} rows but {len(split)} split values.")
            sp, drawn = complete_split(codes, split_from_column(split), val_frac, test_frac, seed)
            meta["split_seed"] = seed if drawn else None
            if drawn:
                meta["drawn_splits"] = drawn
        g = None
        if groups is not None:
            groups = list(groups)
            missing = [i for i, x in enumerate(groups) if is_missing(x)]
            if missing:
                raise DataError(
                    f"{len(missing)} rows have no group (rows {', '.join(map(str, missing[:5]))}, 0-based data "
                    "rows). Fill in the group column or drop those rows."
                )
            g = np.asarray([str(x) for x in groups])
        return cls(list(inputs) if modality != "tensor" else np.asarray(inputs), codes, classes, sp,
                   modality, g, name, meta)

    def fingerprint(self) -> str:
        """sha256 of the inputs, labels, classes, split and groups: two datasets with the same print are the same.

        Stable across calls, processes and machines. Texts are hashed as UTF-8; arrays (and PIL images) by
        dtype/mode, shape and bytes; image paths by path and file size (not contents, to stay fast).
        """
        h = hashlib.sha256()
        h.update(json.dumps({"modality": self.modality, "classes": [str(c) for c in self.classes]}).encode())
        if self.modality == "tensor" or isinstance(self.inputs, np.ndarray):
            arr = np.ascontiguousarray(np.asarray(self.inputs))
            h.update(str((arr.shape, str(arr.dtype))).encode())
            h.update(arr.tobytes())
        else:
            for x in self.inputs:
                _hash_item(h, x)
                if self.modality == "image" and isinstance(x, str | Path):
                    p = Path(x)
                    h.update(str(p.stat().st_size if p.exists() else -1).encode())
        h.update(np.ascontiguousarray(self.labels, dtype=np.int64).tobytes())
        h.update(np.ascontiguousarray(self.split, dtype=np.int8).tobytes())
        if self.groups is not None:
            h.update("\x00".join(map(str, self.groups)).encode("utf-8", "surrogatepass"))
        if self.word_labels is not None:
            h.update(json.dumps(self.word_labels).encode())
        return h.hexdigest()


def _check_texts(texts: Sequence) -> None:
    """Every text must be a non-empty string; name the rows that are not."""
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()]
    if not bad:
        return
    i = bad[0]
    t = texts[i]
    what = "empty" if isinstance(t, str) else f"{type(t).__name__} ({t!r:.40}), not a string"
    rows = ", ".join(map(str, bad[:5])) + (", ..." if len(bad) > 5 else "")
    raise DataError(
        f"row {i}: text is {what}; {len(bad)} rows have no usable text (rows {rows}, 0-based data "
        "rows). Fix the text column (text_column / --text-column) or drop those rows; in CSV files empty "
        "cells read as missing."
    )


def _hash_item(h: Any, x: object) -> None:
    """Feed one input into `h` by content: never by `str()`, which may hold a memory address."""
    if isinstance(x, str | Path):  # no type tag: keeps the prints of text datasets made before tags existed
        h.update(str(x).encode("utf-8", "surrogatepass"))
    elif isinstance(x, bytes | bytearray):
        h.update(b"b" + str(len(x)).encode() + b":")
        h.update(x)
    elif isinstance(x, np.ndarray | np.generic):
        arr = np.ascontiguousarray(x)
        h.update(b"a" + repr((arr.shape, arr.dtype.str)).encode())
        h.update(arr.tobytes())
    elif _is_pil_image(x):
        h.update(b"i" + repr((x.mode, x.size)).encode())
        h.update(x.tobytes())
        palette = x.getpalette() if x.mode in ("P", "PA") else None
        if palette:
            h.update(bytes(palette))
    elif isinstance(x, dict):
        h.update(b"d" + str(len(x)).encode())
        for k in sorted(x, key=str):
            _hash_item(h, str(k))
            _hash_item(h, x[k])
    elif isinstance(x, list | tuple):
        h.update(b"l" + str(len(x)).encode())
        for v in x:
            _hash_item(h, v)
    elif hasattr(x, "numpy") and callable(x.numpy):  # a torch tensor
        _hash_item(h, np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x.numpy()))
    else:
        text = repr(x)
        if " at 0x" in text:  # the default repr names a memory address: a different print in every process
            raise DataError(
                f"cannot fingerprint an input of type {type(x).__name__}: it has no stable content to hash. "
                "Pass texts, image paths, PIL images or numpy arrays."
            )
        h.update(b"r" + text.encode("utf-8", "surrogatepass"))
    h.update(b"\x00")


def _is_pil_image(x: object) -> bool:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow is a dependency
        return False
    return isinstance(x, Image.Image)
