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

import numpy as np

from probewise.data.labels import encode_labels
from probewise.data.splits import check_split_classes, split_from_column, stratified_split
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

    def __post_init__(self) -> None:
        n = len(self.inputs)
        if n == 0:
            raise DataError("the dataset is empty: no rows to extract. Check the file and its filters.")
        if len(self.labels) != n or len(self.split) != n:
            raise DataError(f"inputs ({n}), labels ({len(self.labels)}) and split ({len(self.split)}) differ in length.")
        if self.modality == "text":
            for i, t in enumerate(self.inputs):
                if not isinstance(t, str):
                    raise DataError(
                        f"row {i}: text is {type(t).__name__} ({t!r:.40}), not a string. "
                        "Fix the text column (empty cells read as missing values)."
                    )
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
        sp = split_from_column(split) if split is not None else stratified_split(codes, val_frac, test_frac, seed)
        g = None if groups is None else np.asarray([str(x) for x in groups])
        meta = {"split_seed": None if split is not None else seed, "val_frac": val_frac, "test_frac": test_frac}
        return cls(list(inputs) if modality != "tensor" else np.asarray(inputs), codes, classes, sp,
                   modality, g, name, meta)

    def fingerprint(self) -> str:
        """sha256 of the inputs, labels, classes and split: two datasets with the same print are the same."""
        h = hashlib.sha256()
        h.update(json.dumps({"modality": self.modality, "classes": [str(c) for c in self.classes]}).encode())
        if self.modality == "tensor":
            arr = np.ascontiguousarray(np.asarray(self.inputs))
            h.update(str((arr.shape, str(arr.dtype))).encode())
            h.update(arr.tobytes())
        else:
            for x in self.inputs:
                h.update(str(x).encode("utf-8", "surrogatepass"))
                h.update(b"\x00")
                if self.modality == "image":
                    p = Path(x)
                    h.update(str(p.stat().st_size if p.exists() else -1).encode())
        h.update(np.ascontiguousarray(self.labels, dtype=np.int64).tobytes())
        h.update(np.ascontiguousarray(self.split, dtype=np.int8).tobytes())
        if self.groups is not None:
            h.update("\x00".join(map(str, self.groups)).encode())
        return h.hexdigest()
