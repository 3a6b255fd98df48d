"""Read labelled data from local CSV / JSONL / Parquet files, image folders, and Hugging Face datasets.

Example:
    >>> import tempfile, pathlib
    >>> from probewise.data.files import load_table
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "d.csv"
    >>> _ = p.write_text("text,label\\n" + "".join(f"t{i},{i % 2}\\n" for i in range(20)))
    >>> load_table(p).n
    20
"""

from __future__ import annotations

import json
from pathlib import Path

from probewise.data.examples import Examples
from probewise.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def _read_rows(path: Path) -> tuple[list[str], dict[str, list]]:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        import pyarrow.csv as pacsv

        opts = pacsv.ParseOptions(delimiter="\t" if suffix == ".tsv" else ",")
        try:
            table = pacsv.read_csv(path, parse_options=opts)
        except Exception as e:  # pyarrow raises its own types for malformed files and bad encodings
            raise DataError(f"could not parse {path} as {suffix[1:].upper()}: {e}") from e
        return table.column_names, table.to_pydict()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as e:
            raise DataError(f"could not read {path} as Parquet: {e}") from e
        return table.column_names, table.to_pydict()
    if suffix in (".jsonl", ".ndjson"):
        rows: list[dict] = []
        try:
            with path.open(encoding="utf-8") as f:
                for lineno, line in enumerate(f, 1):
                    if line.strip():
                        try:
                            rows.append(json.loads(line))
                        except json.JSONDecodeError as e:
                            raise DataError(f"{path}:{lineno}: not valid JSON ({e.msg}).") from e
        except UnicodeDecodeError as e:
            raise DataError(f"{path} is not UTF-8 text ({e}); re-encode it as UTF-8.") from e
        names: list[str] = []
        for r in rows:
            for k in r:
                if k not in names:
                    names.append(k)
        return names, {k: [r.get(k) for r in rows] for k in names}
    raise DataError(
        f"unsupported file type {suffix or '(none)'} for {path}: use .csv, .tsv, .jsonl or .parquet."
    )


def load_table(
    path: str | Path,
    text_column: str = "text",
    label_column: str = "label",
    split_column: str | None = None,
    group_column: str | None = None,
    image_column: str | None = None,
    *,
    val_frac: float = 0.15,
    test_frac: float = 0.15,
    seed: int = 0,
) -> Examples:
    """Load a local table. With `image_column`, its values are image paths (relative to the file's folder)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"data file {path} does not exist. Check the path (relative to {Path.cwd()}).")
    if path.is_dir():
        raise DataError(f"{path} is a folder; pass a .csv/.jsonl/.parquet file, or use load_image_folder.")
    names, cols = _read_rows(path)
    input_col = image_column or text_column
    for role, col in (("input", input_col), ("label", label_column), ("split", split_column),
                      ("group", group_column)):
        if col is not None and col not in cols:
            flag = "--image-column" if role == "input" and image_column else f"--{role if role != 'input' else 'text'}-column"
            raise DataError(f"{path} has no {role} column {col!r}; its columns are {names}. Pass {flag}.")
    inputs = cols[input_col]
    if not inputs:
        raise DataError(f"{path} has no rows.")
    modality = "text"
    if image_column:
        modality = "image"
        inputs = [str((path.parent / str(p)).resolve()) for p in inputs]
        missing = [p for p in inputs if not Path(p).exists()]
        if missing:
            raise DataError(f"{len(missing)} image files are missing, e.g. {missing[0]}.")
    return Examples.from_lists(
        inputs, cols[label_column],
        split=cols[split_column] if split_column else None,
        groups=cols[group_column] if group_column else None,
        modality=modality, name=path.stem, val_frac=val_frac, test_frac=test_frac, seed=seed,
    )


def load_image_folder(root: str | Path, *, val_frac: float = 0.15, test_frac: float = 0.15, seed: int = 0) -> Examples:
    """Load `root/<class>/<image>` files (the ImageFolder layout); a `root/<split>/<class>/...` layout keeps its split."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"image folder {root} does not exist or is not a folder.")
    split_dirs = [d for d in ("train", "val", "test") if (root / d).is_dir()]
    paths, labels, splits = [], [], []
    for sp in split_dirs or [None]:
        base = root / sp if sp else root
        for cls_dir in sorted(d for d in base.iterdir() if d.is_dir()):
            for f in sorted(cls_dir.iterdir()):
                if f.suffix.lower() in IMAGE_SUFFIXES:
                    paths.append(str(f.resolve()))
                    labels.append(cls_dir.name)
                    splits.append(sp)
    if not paths:
        raise DataError(f"no images found under {root}; expected {root}/<class>/<image>.png.")
    return Examples.from_lists(paths, labels, split=splits if split_dirs else None, modality="image",
                               name=root.name, val_frac=val_frac, test_frac=test_frac, seed=seed)


def load_hf_dataset(
    name: str,
    text_column: str = "text",
    label_column: str = "label",
    *,
    config_name: str | None = None,
    splits: tuple[str, ...] = ("train", "validation", "test"),
    image_column: str | None = None,
    val_frac: float = 0.15,
    test_frac: float = 0.15,
    seed: int = 0,
) -> Examples:
    """Load a Hugging Face dataset by hub name (network) or from a folder saved with `save_to_disk`.

    Existing splits named like train/validation/test are kept; a dataset with only a train split is
    split stratified with `seed`.
    """
    try:
        import datasets
    except ImportError as e:
        raise DataError("loading Hugging Face datasets needs `pip install datasets`.") from e
    try:
        if Path(name).is_dir():
            ds = datasets.load_from_disk(name)
        else:
            ds = datasets.load_dataset(name, config_name)
    except Exception as e:
        raise DataError(f"could not load dataset {name!r}: {e}") from e
    if isinstance(ds, datasets.Dataset):
        ds = datasets.DatasetDict({"train": ds})
    present = [s for s in ds.keys() if s.lower() in ("train", "val", "valid", "validation", "dev", "test")]
    if not present:
        raise DataError(f"dataset {name!r} has splits {list(ds.keys())}; none is named train/validation/test.")
    col = image_column or text_column
    inputs, labels, split_values = [], [], []
    for s in present:
        part = ds[s]
        for c in (col, label_column):
            if c not in part.column_names:
                raise DataError(f"dataset {name!r} split {s!r} has no column {c!r}; columns: {part.column_names}.")
        inputs += list(part[col])
        labels += list(part[label_column])
        split_values += [s] * len(part)
    names = ds[present[0]].features.get(label_column)
    if hasattr(names, "names"):
        labels = [names.names[i] for i in labels]
    keep_split = len(present) > 1
    return Examples.from_lists(inputs, labels, split=split_values if keep_split else None,
                               name=Path(name).name, val_frac=val_frac, test_frac=test_frac, seed=seed,
                               modality="image" if image_column else "text")
