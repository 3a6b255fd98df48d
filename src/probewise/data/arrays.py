"""Array inputs for models that take tensors: an ``.npy``, an ``.npz`` or a folder of ``.npy`` windows, with labels.

Example:
    >>> import numpy as np, tempfile, pathlib
    >>> from probewise.data.arrays import load_arrays
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> np.save(d / "X.npy", np.zeros((20, 8, 128), np.float32))          # 20 EEG windows, 8 channels
    >>> rows = "".join(f"{['rest', 'task'][i % 2]},s{i % 4}\\n" for i in range(20))
    >>> _ = (d / "y.csv").write_text("label,subject\\n" + rows)
    >>> ex = load_arrays(d / "X.npy", labels=d / "y.csv", group_column="subject")
    >>> ex.inputs.shape, ex.classes, sorted(set(ex.groups.tolist()))
    ((20, 8, 128), ('rest', 'task'), ['s0', 's1', 's2', 's3'])

Three forms, each read without pickle (``allow_pickle=False``):

- ``X.npy``: one array ``[n, ...]``, row i = example i; labels from the CSV (row i = example i).
- ``X.npz``: several arrays of ``n`` rows. Arrays named like the label/group/split columns are those columns (so the
  CSV is optional); every other array is a model input. With one input the examples are that array; with several
  (a model with several inputs, e.g. a raw signal and its spectrogram) a structured array whose fields carry the
  arrays' names, which :class:`~probewise.sources.onnx.OnnxSource` matches to the graph's input names.
- a folder of ``.npy`` files, one window each (all of one shape): the CSV (``--labels``, default
  ``DIR/labels.csv``) lists them in its ``file`` column with their label (and group, split).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from probewise.data.examples import Examples
from probewise.errors import DataError

__all__ = ["is_array_data", "load_arrays"]

ARRAY_SUFFIXES = (".npy", ".npz")


def is_array_data(path: str | Path) -> bool:
    """Whether ``path`` is array data: an ``.npy``/``.npz`` file or a folder holding ``.npy`` files."""
    p = Path(path)
    if p.suffix.lower() in ARRAY_SUFFIXES:
        return True
    return p.is_dir() and any(p.glob("*.npy"))


def _load(path: Path, mmap: bool = True):
    try:
        return np.load(path, allow_pickle=False, mmap_mode="r" if mmap and path.suffix == ".npy" else None)
    except ValueError as e:
        if "pickle" in str(e).lower() or "python objects" in str(e).lower():
            raise DataError(f"{path} holds Python objects (a pickled array), which probewise does not load: save "
                            "numeric arrays (np.save of a float/int array).") from e
        raise DataError(f"{path} is not a readable NumPy file ({e}); save it again with np.save / np.savez.") from e
    except (OSError, EOFError) as e:
        raise DataError(f"{path} is not a readable NumPy file ({e}); it may be truncated: save it again.") from e


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    if not path.is_file():
        raise DataError(f"labels file {str(path)!r} does not exist; give --labels CSV with one row per example "
                        "(a label column, optionally group and split columns).")
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            header = list(reader.fieldnames or [])
    except UnicodeDecodeError as e:
        raise DataError(f"{path} is not UTF-8 text; save it as UTF-8 CSV.") from e
    if not header:
        raise DataError(f"{path} is empty: expected a header line (e.g. `label,subject`) and one row per example.")
    return header, rows


def _column(rows: list[dict[str, str]], header: list[str], name: str, path: Path) -> list[str]:
    if name not in header:
        raise DataError(f"{path} has no column {name!r}; its columns: {header}.")
    values = [r[name] for r in rows]
    empty = [i for i, v in enumerate(values) if v is None or not str(v).strip()]
    if empty:
        raise DataError(f"{path}: column {name!r} is empty in {len(empty)} rows (first: data row {empty[0]}); fill "
                        "them in or drop those rows.")
    return values


def _check_numeric(name: str, arr: np.ndarray) -> None:
    if arr.dtype.kind not in "biuf":
        raise DataError(f"array {name!r} has dtype {arr.dtype}; model inputs must be numbers (float, int, bool).")


def _stack_inputs(arrays: dict[str, np.ndarray]) -> np.ndarray:
    """One array when there is one input, else a structured array with a field per input."""
    if len(arrays) == 1:
        return next(iter(arrays.values()))
    dt = np.dtype([(k, v.dtype, v.shape[1:]) for k, v in arrays.items()])
    n = len(next(iter(arrays.values())))
    out = np.zeros(n, dt)
    for k, v in arrays.items():
        out[k] = v
    return out


def load_arrays(
    path: str | Path,
    labels: str | Path | None = None,
    label_column: str = "label",
    group_column: str | None = None,
    split_column: str | None = None,
    file_column: str = "file",
    *,
    val_frac: float = 0.15,
    test_frac: float = 0.15,
    seed: int = 0,
) -> Examples:
    """Examples (modality "tensor") from array files; labels, groups and split from a CSV or the ``.npz`` itself.

    Args:
        path: an ``.npy`` file, an ``.npz`` file or a folder of ``.npy`` windows.
        labels: a CSV with one row per example, in the arrays' order (for a folder: rows naming the files in
            ``file_column``; default ``DIR/labels.csv``). Optional for an ``.npz`` that holds the label array.
        label_column, group_column, split_column: the CSV's (or the ``.npz``'s) columns; a split column holds
            train/val/test, otherwise a stratified split is drawn with ``seed``.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"array data {str(p)!r} does not exist.")
    columns = [c for c in (label_column, group_column, split_column) if c]
    table: dict[str, list] = {}
    if p.is_dir():
        csv_path = Path(labels) if labels else p / "labels.csv"
        header, rows = _read_csv(csv_path)
        files = _column(rows, header, file_column, csv_path)
        windows = []
        for name in files:
            f = (p / name) if not Path(name).is_absolute() else Path(name)
            if not f.is_file():
                raise DataError(f"{csv_path} names {name!r}, which is not a file in {p}.")
            windows.append(np.asarray(_load(f, mmap=False)))
        shapes = {w.shape for w in windows}
        if len(shapes) > 1:
            first = windows[0].shape
            odd = next(i for i, w in enumerate(windows) if w.shape != first)
            raise DataError(f"the windows differ in shape: {files[0]} is {list(first)}, {files[odd]} is "
                            f"{list(windows[odd].shape)}; crop or pad them to one shape.")
        inputs = np.stack(windows)
        _check_numeric(file_column, inputs)
        table = {c: _column(rows, header, c, csv_path) for c in columns}
        name = p.name
    elif p.suffix.lower() == ".npz":
        with _load(p) as z:
            arrays = {k: np.asarray(z[k]) for k in z.files}
        if not arrays:
            raise DataError(f"{p} holds no arrays.")
        table = {c: [str(x) for x in arrays.pop(c).tolist()] for c in columns if c in arrays}
        if not arrays:
            raise DataError(f"{p} holds only label/group/split arrays; add the model inputs.")
        ns = {k: len(v) for k, v in arrays.items()}
        if len(set(ns.values())) != 1:
            raise DataError(f"the arrays of {p} differ in their number of rows {ns}; every input needs one row per "
                            "example.")
        for k, v in arrays.items():
            _check_numeric(k, v)
        inputs = _stack_inputs(arrays)
        name = p.stem
    elif p.suffix.lower() == ".npy":
        inputs = _load(p)
        _check_numeric(p.name, inputs)
        if inputs.ndim < 2:
            raise DataError(f"{p} is a 1-D array of {inputs.shape[0]} values; give [n, ...] with one row per example.")
        name = p.stem
    else:
        raise DataError(f"{p}: give an .npy file, an .npz file or a folder of .npy windows.")
    missing = [c for c in columns if c not in table]
    if missing:
        if labels is None and not p.is_dir():
            hint = "give --labels CSV" + (f" or store arrays named {missing} in the .npz" if p.suffix == ".npz" else "")
            raise DataError(f"{p}: no {missing[0]!r} values for its {len(inputs)} examples; {hint}.")
        header, rows = _read_csv(Path(labels))
        table.update({c: _column(rows, header, c, Path(labels)) for c in missing})
    for c, values in table.items():
        if len(values) != len(inputs):
            raise DataError(f"{len(inputs)} examples in {p.name} but {len(values)} values of {c!r}; give one row per "
                            "example, in the same order.")
    return Examples.from_lists(inputs, table[label_column], table.get(split_column) if split_column else None,
                               table.get(group_column) if group_column else None, modality="tensor", name=name,
                               val_frac=val_frac, test_frac=test_frac, seed=seed)

