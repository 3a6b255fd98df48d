"""Read labelled data from local CSV / TSV / JSONL / Parquet files, image folders, and Hugging Face datasets.

Every loader returns `Examples` with a train/val/test split: the file's own split (a split column, the
`root/<split>/<class>` layout, a dataset's named splits) when there is one, with a missing val or test part drawn
out of train; otherwise a stratified split from `seed`.

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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from probewise.data.examples import Examples
from probewise.data.labels import is_missing
from probewise.data.splits import SPLIT_ALIASES
from probewise.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
_REENCODE = (
    "Re-encode it as UTF-8, e.g. `iconv -f latin1 -t utf-8 IN > OUT`, or in Python read it with its encoding "
    "(open(IN, encoding='latin-1')) and write it back with encoding='utf-8'."
)


def _rows_text(idx: Sequence[int]) -> str:
    return ", ".join(str(i) for i in idx[:5]) + (", ..." if len(idx) > 5 else "")


def _check_utf8(path: Path, chunk_size: int = 1 << 24) -> None:
    """Raise DataError naming the line of the first byte that is not UTF-8."""
    line_base = 0
    with path.open("rb") as f:
        first = True
        while chunk := f.read(chunk_size):
            chunk += f.readline()  # end on a newline: never inside a multi-byte character
            if first and chunk[:2] in (b"\xff\xfe", b"\xfe\xff"):
                raise DataError(
                    f"{path} is UTF-16 text (as Excel's 'Unicode text' writes it), not UTF-8. Re-encode it as UTF-8, "
                    "e.g. `iconv -f utf-16 -t utf-8 IN > OUT`, or save it from the spreadsheet as 'CSV UTF-8'."
                )
            first = False
            try:
                chunk.decode("utf-8")
            except UnicodeDecodeError as e:
                line = line_base + chunk.count(b"\n", 0, e.start) + 1
                raise DataError(
                    f"{path} is not UTF-8 text: line {line} holds the byte 0x{chunk[e.start]:02x}, invalid in UTF-8 "
                    f"(the file is probably Latin-1 or Windows-1252). {_REENCODE}"
                ) from e
            line_base += chunk.count(b"\n")


def _read_csv(path: Path, string_columns: Sequence[str]) -> tuple[list[str], dict[str, list]]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    _check_utf8(path)
    with path.open("rb") as f:
        head = f.read(4096)
    if not head.strip() and path.stat().st_size <= len(head):
        raise DataError(f"{path} is empty: expected a header line (e.g. `text,label`) and one row per example.")
    kind = "TSV" if path.suffix.lower() == ".tsv" else "CSV"
    parse = pacsv.ParseOptions(delimiter="\t" if kind == "TSV" else ",", newlines_in_values=True)
    # Text-like columns stay strings: a text "42" or "NA" is text, and an empty cell reads as "" (then refused).
    convert = pacsv.ConvertOptions(column_types={c: pa.string() for c in string_columns})
    try:
        table = pacsv.read_csv(path, parse_options=parse, convert_options=convert)
    except Exception as e:  # pyarrow raises its own types for malformed files
        raise DataError(
            f"could not parse {path} as {kind}: {e}. Check that every row has as many fields as the header "
            f"({'tab' if kind == 'TSV' else 'comma'}-separated) and that fields holding "
            f"{'tabs' if kind == 'TSV' else 'commas'}, quotes or newlines are quoted."
        ) from e
    for name, col_type in zip(table.column_names, table.schema.types, strict=True):
        if pa.types.is_binary(col_type) or pa.types.is_large_binary(col_type):  # unreachable after _check_utf8
            raise DataError(f"{path}: column {name!r} is not UTF-8 text. {_REENCODE}")
    return table.column_names, table.to_pydict()


def _read_jsonl(path: Path) -> tuple[list[str], dict[str, list]]:
    rows: list[dict] = []
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as e:
                raise DataError(
                    f"{path} is not UTF-8 text: line {lineno} holds the byte 0x{raw[e.start]:02x}, invalid in UTF-8. "
                    f"{_REENCODE}"
                ) from e
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(
                    f"{path}:{lineno}: not valid JSON ({e.msg} at column {e.colno}). Each line must be one JSON "
                    'object, e.g. {"text": "...", "label": "pos"}; a .jsonl file is not a JSON array.'
                ) from e
            if not isinstance(row, dict):
                raise DataError(
                    f"{path}:{lineno}: a JSON {type(row).__name__}, not an object. Each line must be one JSON "
                    'object, e.g. {"text": "...", "label": "pos"}.'
                )
            rows.append(row)
    names: list[str] = []
    for r in rows:
        for k in r:
            if k not in names:
                names.append(k)
    return names, {k: [r.get(k) for r in rows] for k in names}


def _read_rows(path: Path, string_columns: Sequence[str] = ()) -> tuple[list[str], dict[str, list]]:
    """Column names and columns of a table file; `string_columns` of a CSV/TSV are read as text, untyped."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        return _read_csv(path, string_columns)
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as e:
            raise DataError(f"could not read {path} as Parquet ({e}); is it a complete Parquet file?") from e
        return table.column_names, table.to_pydict()
    if suffix in (".jsonl", ".ndjson"):
        return _read_jsonl(path)
    hint = " (a .json array: write one object per line as .jsonl)" if suffix == ".json" else ""
    raise DataError(
        f"unsupported file type {suffix or '(no extension)'} for {path}: use .csv, .tsv, .jsonl or .parquet{hint}; "
        "for a folder of images use load_image_folder (--image-folder)."
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
    """Load a local table: `.csv`, `.tsv`, `.jsonl` / `.ndjson` (one JSON object per line) or `.parquet`.

    Args:
        path: the file, UTF-8 encoded for the text formats.
        text_column: the column of input texts (read as strings from CSV/TSV; typed formats must hold strings).
        label_column: class labels, strings or integers.
        split_column: optional train/val/test (also validation, dev) per row; a missing val or test part is
            drawn out of train. Without it the split is stratified from `seed`.
        group_column: optional group ids (subjects, documents) for group-aware protocols.
        image_column: inputs are image paths in this column instead of texts, relative to the file's folder.
        val_frac, test_frac, seed: the stratified split (or the parts drawn out of train).
    Raises:
        DataError: a missing or unreadable file, a missing column, no rows, missing labels or texts, bad split
            values; messages name the rows (0-based, header not counted).
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"data file {path} does not exist. Check the path (relative to {Path.cwd()}).")
    if path.is_dir():
        raise DataError(
            f"{path} is a folder; pass a .csv/.tsv/.jsonl/.parquet file, or use load_image_folder (--image-folder) "
            "for root/<class>/<image> folders and load_hf_dataset (--hf-dataset) for a save_to_disk folder."
        )
    input_col = image_column or text_column
    strings = [c for c in (input_col, split_column, group_column) if c is not None]
    names, cols = _read_rows(path, strings)
    if not any(len(v) for v in cols.values()):
        raise DataError(f"{path} has no rows{' (only a header)' if names else ''}; add one row per example.")
    for role, col, arg in (
        ("input", input_col, "image_column" if image_column else "text_column"),
        ("label", label_column, "label_column"),
        ("split", split_column, "split_column"),
        ("group", group_column, "group_column"),
    ):
        if col is not None and col not in cols:
            flag = "--" + arg.replace("_", "-")
            raise DataError(
                f"{path} has no {role} column {col!r}; its columns are {names}. Name the right one with "
                f"{arg}= ({flag} on the command line)."
            )
    inputs = cols[input_col]
    modality = "text"
    if image_column:
        modality = "image"
        empty = [i for i, p in enumerate(inputs) if is_missing(p)]
        if empty:
            raise DataError(
                f"{path}: {len(empty)} rows have no image path in column {image_column!r} (rows "
                f"{_rows_text(empty)}, 0-based). Fill them in or drop those rows."
            )
        inputs = [str((path.parent / str(p)).resolve()) for p in inputs]
        missing = [p for p in inputs if not Path(p).is_file()]
        if missing:
            raise DataError(
                f"{len(missing)} of {len(inputs)} image files named in {path} are missing, e.g. {missing[0]}. "
                f"Relative paths are read from the table's folder ({path.parent.resolve()})."
            )
    return Examples.from_lists(
        inputs, cols[label_column],
        split=cols[split_column] if split_column else None,
        groups=cols[group_column] if group_column else None,
        modality=modality, name=path.stem, val_frac=val_frac, test_frac=test_frac, seed=seed,
    )


def load_image_folder(root: str | Path, *, val_frac: float = 0.15, test_frac: float = 0.15, seed: int = 0) -> Examples:
    """Load `root/<class>/<image>` files (the ImageFolder layout), class = folder name.

    A `root/<split>/<class>/<image>` layout (split folders named train, val/valid/validation/dev, test) keeps its
    split, with a missing val or test part drawn out of train; otherwise the split is stratified from `seed`.
    Hidden folders (`.ipynb_checkpoints`) and files that are not images are skipped.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"image folder {root} does not exist or is not a folder.")

    def subdirs(d: Path) -> list[Path]:
        return sorted(x for x in d.iterdir() if x.is_dir() and not x.name.startswith("."))

    split_dirs = [d for d in subdirs(root) if d.name.lower() in SPLIT_ALIASES]
    paths, labels, splits = [], [], []
    for sp in split_dirs or [root]:
        for cls_dir in subdirs(sp):
            for f in sorted(cls_dir.iterdir()):
                if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES:
                    paths.append(str(f.resolve()))
                    labels.append(cls_dir.name)
                    splits.append(sp.name)
    if not paths:
        loose = [f for f in root.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES]
        hint = f" The {len(loose)} images directly in {root} have no class: move them into class folders." * bool(loose)
        raise DataError(
            f"no images found under {root}; expected {root}/<class>/<image>.png or "
            f"{root}/<train|val|test>/<class>/<image>.png.{hint}"
        )
    unreadable = [p for p in paths if not _image_header_ok(p)]
    if unreadable:
        raise DataError(
            f"{len(unreadable)} of {len(paths)} files under {root} are not readable images (corrupt, empty or "
            f"another format under an image suffix), e.g. {unreadable[:3]}; remove or replace them. Nothing was "
            "written."
        )
    return Examples.from_lists(paths, labels, split=splits if split_dirs else None, modality="image",
                               name=root.name, val_frac=val_frac, test_frac=test_frac, seed=seed)


def _image_header_ok(path: str) -> bool:
    """Whether Pillow recognizes the file as an image from its header (fast: the pixels are not decoded)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.size  # noqa: B018 - read from the header
        return True
    except (UnidentifiedImageError, OSError, ValueError):
        return False


def open_rgb(image: Any) -> Any:
    """An image path or PIL image as an RGB PIL image, or a :class:`DataError` naming the file and the fix.

    Example:
        >>> from PIL import Image
        >>> open_rgb(Image.new("L", (4, 4))).mode
        'RGB'
    """
    from PIL import Image, UnidentifiedImageError

    name = image if isinstance(image, str | Path) else f"a {type(image).__name__} image"
    try:
        if isinstance(image, str | Path):
            with Image.open(image) as im:
                return im.convert("RGB")
        return image.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        mode = getattr(image, "mode", None)
        what = f"of mode {mode!r}, which cannot be converted to RGB" if mode else "corrupt or truncated"
        raise DataError(f"image {name} is {what} ({type(e).__name__}: {e}); remove or re-save it (e.g. as PNG), "
                        "then rerun: finished shards are kept.") from e


def _open_hf(datasets: Any, name: str, config_name: str | None) -> Any:
    path = Path(name).expanduser()
    if path.is_dir():
        saved = (path / "dataset_dict.json").is_file() or (path / "state.json").is_file()
        try:
            # a save_to_disk folder, or a folder of data files (train.csv, test.jsonl, ...) read by `load_dataset`
            return datasets.load_from_disk(str(path)) if saved else datasets.load_dataset(str(path), config_name)
        except Exception as e:
            raise DataError(
                f"could not load the dataset folder {path} ({type(e).__name__}: {e}). Pass a folder written by "
                "Dataset.save_to_disk / DatasetDict.save_to_disk, or load a single table with load_table (--data)."
            ) from e
    if path.exists():
        raise DataError(f"{path} is a file, not a dataset; load tables with load_table (--data).")
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise DataError(f"dataset folder {path} does not exist. Check the path (relative to {Path.cwd()}).")
    try:
        return datasets.load_dataset(name, config_name)
    except Exception as e:
        raise DataError(
            f"could not load {name!r} from the Hugging Face hub ({type(e).__name__}: {e}). Check the name (and "
            "config_name), and the network (HF_HUB_OFFLINE=1 blocks downloads); or pass a folder written with "
            "save_to_disk."
        ) from e


def _decode_labels(raw: list, feature: object, name: str, split: str) -> list:
    """ClassLabel ids → class names; -1 (the hub's "no label", e.g. GLUE test sets) → None (missing)."""
    names = getattr(feature, "names", None)
    if not names:
        return raw
    out = []
    for i, v in enumerate(raw):
        if v is None or v == -1:
            out.append(None)
        elif isinstance(v, int) and 0 <= v < len(names):
            out.append(names[v])
        else:
            raise DataError(
                f"dataset {name!r} split {split!r} row {i}: label {v!r} is outside its ClassLabel names {names[:10]}."
            )
    return out


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
    """Load a Hugging Face dataset by hub name (network) or from a local folder.

    A folder is either written by `save_to_disk` or holds data files `datasets.load_dataset` reads. Splits
    named train / validation (val, valid, dev) / test are kept, with a missing val or test part drawn out of
    train; a dataset with a single split is split stratified from `seed`. `ClassLabel` ids are decoded to their
    names; a split whose labels are all -1 (unlabelled, as in GLUE test sets) is dropped and listed in
    `meta["dropped_splits"]`. The `splits` argument is kept for compatibility; the names above are used.
    """
    try:
        import datasets
    except ImportError as e:
        raise DataError("loading Hugging Face datasets needs `pip install datasets` (or probewise[datasets]).") from e
    ds = _open_hf(datasets, name, config_name)
    if isinstance(ds, datasets.Dataset):
        ds = datasets.DatasetDict({"train": ds})
    if not isinstance(ds, datasets.DatasetDict):
        raise DataError(f"dataset {name!r} loaded as {type(ds).__name__}; pass a Dataset or DatasetDict.")
    present = [s for s in ds.keys() if s.lower() in SPLIT_ALIASES]
    if not present:
        raise DataError(
            f"dataset {name!r} has splits {list(ds.keys())}; none is named train/validation/test. Rename them "
            "(DatasetDict({'train': ...})) before saving."
        )
    col = image_column or text_column
    inputs, labels, split_values, dropped = [], [], [], []
    for s in present:
        part = ds[s]
        for c, arg in ((col, "image_column" if image_column else "text_column"), (label_column, "label_column")):
            if c not in part.column_names:
                raise DataError(
                    f"dataset {name!r} split {s!r} has no column {c!r}; its columns are {part.column_names}. "
                    f"Name the right one with {arg}= (--{arg.replace('_', '-')})."
                )
        lab = _decode_labels(list(part[label_column]), part.features.get(label_column), name, s)
        if lab and all(v is None for v in lab):
            dropped.append(s)
            continue
        inputs += list(part[col])
        labels += lab
        split_values += [s] * len(part)
    if not inputs:
        raise DataError(f"dataset {name!r} has no labelled rows in {present}.")
    kept = [s for s in present if s not in dropped]
    ex = Examples.from_lists(inputs, labels, split=split_values if len(kept) > 1 else None,
                             name=Path(name).name, val_frac=val_frac, test_frac=test_frac, seed=seed,
                             modality="image" if image_column else "text")
    ex.meta["source_splits"] = kept
    if dropped:
        ex.meta["dropped_splits"] = dropped
    return ex
