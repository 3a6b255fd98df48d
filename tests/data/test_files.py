"""Loaders on real files written to tmp dirs: tables, image folders, saved HF datasets; bad input; fingerprints."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from probewise.data import Examples, load_hf_dataset, load_image_folder, load_table
from probewise.data.splits import TEST, TRAIN, VAL
from probewise.errors import ConfigError, DataError

N = 30
TEXTS = [f"sentence {i}" for i in range(N)]
TEXTS[4] = 'has, a comma and "quotes"'
TEXTS[7] = "spans\ntwo lines"
TEXTS[9] = "42"  # numeric-looking text stays text
TEXTS[11] = "NA"  # so does a null marker
TEXTS[13] = "naïve café ☕"
STR_LABELS = ["pos", "neg", "neutral"] * (N // 3)
INT_LABELS = [i % 2 * 7 for i in range(N)]  # 0 and 7
SPLITS = ["train"] * 20 + ["validation"] * 5 + ["test"] * 5
GROUPS = [f"doc{i // 3:02d}" for i in range(N)]


def write_table(path: Path, columns: dict[str, list]) -> Path:
    """Write `columns` to `path` in the format its suffix names."""
    names = list(columns)
    rows = [dict(zip(names, vals, strict=True)) for vals in zip(*columns.values(), strict=True)]
    suffix = path.suffix
    if suffix in (".csv", ".tsv"):
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, names, delimiter="\t" if suffix == ".tsv" else ",")
            w.writeheader()
            w.writerows(rows)
    elif suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    elif suffix == ".parquet":
        pq.write_table(pa.table(columns), path)
    else:
        raise AssertionError(suffix)
    return path


def decoded(ex: Examples) -> list:
    return [ex.classes[c] for c in ex.labels]


FORMATS = [".csv", ".tsv", ".jsonl", ".parquet"]


# -- tables -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", FORMATS)
@pytest.mark.parametrize("labels", [STR_LABELS, INT_LABELS], ids=["str", "int"])
def test_table_roundtrip(tmp_path, suffix, labels):
    path = write_table(tmp_path / f"reviews{suffix}", {"text": TEXTS, "label": labels})
    ex = load_table(path, seed=5)
    assert ex.modality == "text" and ex.name == "reviews" and ex.n == N
    assert ex.inputs == TEXTS
    assert ex.classes == tuple(sorted(set(labels)))
    assert decoded(ex) == labels
    assert ex.groups is None
    # no split column: stratified from the seed, the same as splitting the codes directly
    again = load_table(path, seed=5)
    np.testing.assert_array_equal(ex.split, again.split)
    assert {int(s) for s in ex.split} == {TRAIN, VAL, TEST}
    assert ex.meta["split_seed"] == 5
    assert (load_table(path, seed=6).split != ex.split).any()


@pytest.mark.parametrize("suffix", FORMATS)
def test_table_with_split_and_group_columns(tmp_path, suffix):
    path = write_table(tmp_path / f"d{suffix}", {"sentence": TEXTS, "y": STR_LABELS, "part": SPLITS, "doc": GROUPS})
    ex = load_table(path, "sentence", "y", split_column="part", group_column="doc")
    assert ex.inputs == TEXTS and decoded(ex) == STR_LABELS
    assert ex.split.tolist() == [TRAIN] * 20 + [VAL] * 5 + [TEST] * 5
    assert ex.groups.tolist() == GROUPS
    assert ex.meta["split_seed"] is None


def test_int_group_ids_in_csv_keep_leading_zeros(tmp_path):
    ids = [f"{i // 5:03d}" for i in range(N)]
    path = write_table(tmp_path / "g.csv", {"text": TEXTS, "label": STR_LABELS, "g": ids})
    assert load_table(path, group_column="g").groups[:6].tolist() == ["000"] * 5 + ["001"]


def test_split_column_without_val_gets_val_from_train(tmp_path):
    split = ["train"] * 24 + ["test"] * 6
    path = write_table(tmp_path / "d.jsonl", {"text": TEXTS, "label": STR_LABELS, "split": split})
    ex = load_table(path, split_column="split", seed=1)
    assert (ex.split[24:] == TEST).all()
    assert (ex.split[:24] == VAL).sum() >= 3 and ex.meta["drawn_splits"] == ["val"]


def test_utf8_bom_and_blank_jsonl_lines(tmp_path):
    csv_path = tmp_path / "bom.csv"
    csv_path.write_bytes(b"\xef\xbb\xbftext,label\n" + b"".join(f"t{i},{i % 2}\n".encode() for i in range(12)))
    assert load_table(csv_path).inputs[:2] == ["t0", "t1"]
    jl = tmp_path / "bom.jsonl"
    body = "\n\n".join(json.dumps({"text": f"t{i}", "label": i % 2}) for i in range(12))
    jl.write_bytes(b"\xef\xbb\xbf" + body.encode() + b"\n\n")
    ex = load_table(jl)
    assert ex.n == 12 and ex.inputs[-1] == "t11"


# -- images -------------------------------------------------------------------------------------------------------


def _png(path: Path, value: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (4, 4), (value, 255 - value, 0)).save(path)
    return path


def test_image_folder_class_layout(tmp_path):
    root = tmp_path / "pets"
    for cls in ("cat", "dog"):
        for i in range(5):
            _png(root / cls / f"{i}.png", i * 10)
    (root / "dog" / "notes.txt").write_text("not an image")
    (root / ".ipynb_checkpoints").mkdir()
    ex = load_image_folder(root, seed=0)
    assert ex.modality == "image" and ex.name == "pets" and ex.n == 10
    assert ex.classes == ("cat", "dog")
    assert decoded(ex) == ["cat"] * 5 + ["dog"] * 5
    assert ex.inputs[0] == str((root / "cat" / "0.png").resolve())
    assert all(Path(p).is_absolute() and Path(p).exists() for p in ex.inputs)
    assert {int(s) for s in ex.split} == {TRAIN, VAL, TEST}


def test_image_folder_split_layout(tmp_path):
    root = tmp_path / "imgs"
    sizes = {"train": 4, "validation": 2, "test": 2}
    for split, k in sizes.items():
        for cls in ("a", "b"):
            for i in range(k):
                _png(root / split / cls / f"{i}.png", i)
    ex = load_image_folder(root)
    assert ex.n == 16 and ex.classes == ("a", "b")
    # split folders are read in sorted order: test, train, validation
    assert ex.split.tolist() == [TEST] * 4 + [TRAIN] * 8 + [VAL] * 4
    assert decoded(ex)[:4] == ["a", "a", "b", "b"]
    assert "drawn_splits" not in ex.meta


def test_image_folder_train_test_layout_draws_val(tmp_path):
    root = tmp_path / "imgs"
    for split, k in (("train", 8), ("test", 2)):
        for cls in ("a", "b"):
            for i in range(k):
                _png(root / split / cls / f"{i}.png", i)
    ex = load_image_folder(root, seed=0)
    assert ex.meta["drawn_splits"] == ["val"]
    assert (ex.split == VAL).sum() == 2 and (ex.split == TEST).sum() == 4


def test_csv_with_image_paths(tmp_path):
    for i in range(6):
        _png(tmp_path / "img" / f"{i}.png", i)
    path = write_table(tmp_path / "meta.csv", {"file": [f"img/{i}.png" for i in range(6)],
                                               "label": ["x", "y"] * 3, "split": ["train"] * 4 + ["val", "test"]})
    ex = load_table(path, image_column="file", split_column="split")
    assert ex.modality == "image"
    assert ex.inputs == [str((tmp_path / "img" / f"{i}.png").resolve()) for i in range(6)]
    assert decoded(ex) == ["x", "y"] * 3


def test_csv_with_missing_images(tmp_path):
    _png(tmp_path / "img" / "0.png", 0)
    path = write_table(tmp_path / "meta.csv", {"file": ["img/0.png", "img/1.png", "img/2.png"], "label": [0, 1, 0]})
    with pytest.raises(DataError, match=r"2 of 3 image files named in .* are missing, e.g. .*1\.png.*table's folder"):
        load_table(path, image_column="file")
    path = write_table(tmp_path / "meta.jsonl", {"file": ["img/0.png", None, ""], "label": [0, 1, 0]})
    with pytest.raises(DataError, match=r"2 rows have no image path in column 'file' \(rows 1, 2"):
        load_table(path, image_column="file")


# -- Hugging Face datasets saved to disk -------------------------------------------------------------------------


def test_hf_dataset_dict_with_classlabel(tmp_path):
    datasets = pytest.importorskip("datasets")
    features = datasets.Features({"text": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["negative", "positive", "mixed"])})
    parts = {"train": range(0, 12), "validation": range(12, 18), "test": range(18, 24)}
    dd = datasets.DatasetDict({
        s: datasets.Dataset.from_dict({"text": [f"{s} {i}" for i in r], "label": [i % 3 for i in r]}, features=features)
        for s, r in parts.items()
    })
    dd.save_to_disk(tmp_path / "sent")
    ex = load_hf_dataset(str(tmp_path / "sent"))
    assert ex.n == 24 and ex.name == "sent"
    assert ex.inputs[:2] == ["train 0", "train 1"] and ex.inputs[-1] == "test 23"
    # ClassLabel ids decoded to names, classes sorted by name
    assert ex.classes == ("mixed", "negative", "positive")
    assert decoded(ex)[:4] == ["negative", "positive", "mixed", "negative"]
    assert ex.split.tolist() == [TRAIN] * 12 + [VAL] * 6 + [TEST] * 6
    assert ex.meta["source_splits"] == ["train", "validation", "test"]


def test_hf_single_split_is_split_stratified(tmp_path):
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict({"sentence": TEXTS, "label": STR_LABELS})
    ds.save_to_disk(tmp_path / "one")
    ex = load_hf_dataset(str(tmp_path / "one"), text_column="sentence", seed=2)
    assert ex.inputs == TEXTS and decoded(ex) == STR_LABELS
    assert ex.meta["split_seed"] == 2 and {int(s) for s in ex.split} == {TRAIN, VAL, TEST}
    datasets.DatasetDict({"train": ds}).save_to_disk(tmp_path / "dict")
    ex2 = load_hf_dataset(str(tmp_path / "dict"), text_column="sentence", seed=2)
    np.testing.assert_array_equal(ex.split, ex2.split)
    assert ex.fingerprint() == ex2.fingerprint()


def test_hf_unlabelled_test_split_dropped_and_val_drawn(tmp_path):
    datasets = pytest.importorskip("datasets")
    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["a", "b"])})
    train = {"text": TEXTS[:20], "label": [i % 2 for i in range(20)]}
    dd = datasets.DatasetDict({
        "train": datasets.Dataset.from_dict(train, features=features),
        "test": datasets.Dataset.from_dict({"text": TEXTS[20:], "label": [-1] * 10}, features=features),  # GLUE-style
        "unsupervised": datasets.Dataset.from_dict({"text": ["x"], "label": [-1]}, features=features),
    })
    dd.save_to_disk(tmp_path / "glue")
    ex = load_hf_dataset(str(tmp_path / "glue"), seed=0)
    assert ex.n == 20 and ex.meta["dropped_splits"] == ["test"]
    assert ex.classes == ("a", "b") and {int(s) for s in ex.split} == {TRAIN, VAL, TEST}
    # a split with only some labels missing is refused, naming the rows
    dd["train"] = datasets.Dataset.from_dict({"text": TEXTS[:20], "label": [0, 1, -1] + [0, 1] * 8 + [1]},
                                             features=features)
    dd.save_to_disk(tmp_path / "partial")
    with pytest.raises(DataError, match=r"1 of 20 rows have no label .* rows 2 "):
        load_hf_dataset(str(tmp_path / "partial"))


def test_hf_image_dataset_fingerprint_uses_pixels(tmp_path):
    datasets = pytest.importorskip("datasets")
    imgs = [Image.new("RGB", (4, 4), (i * 20, 0, 0)) for i in range(12)]
    features = datasets.Features({"img": datasets.Image(), "label": datasets.Value("int64")})
    ds = datasets.Dataset.from_dict({"img": imgs, "label": [i % 2 for i in range(12)]}, features=features)
    ds.save_to_disk(tmp_path / "pix")
    a = load_hf_dataset(str(tmp_path / "pix"), image_column="img")
    b = load_hf_dataset(str(tmp_path / "pix"), image_column="img")
    assert a.modality == "image" and isinstance(a.inputs[0], Image.Image)
    assert a.inputs[3].getpixel((0, 0)) == (60, 0, 0)
    assert a.fingerprint() == b.fingerprint()  # different objects, same pixels
    b.inputs[3] = Image.new("RGB", (4, 4), (61, 0, 0))
    assert a.fingerprint() != b.fingerprint()


def test_hf_folder_of_data_files(tmp_path, monkeypatch):
    """A folder that is not a save_to_disk folder is read by `datasets.load_dataset` (train.csv, test.csv, ...)."""
    datasets = pytest.importorskip("datasets")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    folder = tmp_path / "files"
    folder.mkdir()
    texts = [t for t in TEXTS if t != "NA"] + ["extra"]  # datasets (pandas) reads a bare NA in a CSV as null
    write_table(folder / "train.csv", {"text": texts[:24], "label": STR_LABELS[:24]})
    write_table(folder / "test.csv", {"text": texts[24:], "label": STR_LABELS[24:]})
    ex = load_hf_dataset(str(folder), seed=0)
    assert ex.inputs == texts and decoded(ex) == STR_LABELS
    assert (ex.split[24:] == TEST).all() and ex.meta["drawn_splits"] == ["val"]
    assert ex.meta["source_splits"] == ["train", "test"]


def test_hf_bad_input(tmp_path):
    datasets = pytest.importorskip("datasets")
    datasets.Dataset.from_dict({"text": TEXTS, "label": STR_LABELS}).save_to_disk(tmp_path / "ok")
    with pytest.raises(DataError, match=r"no column 'sentence'; its columns are \['text', 'label'\].*text_column="):
        load_hf_dataset(str(tmp_path / "ok"), text_column="sentence")
    with pytest.raises(DataError, match="dataset folder .*nope does not exist"):
        load_hf_dataset(str(tmp_path / "nope"))
    datasets.DatasetDict({"extra": datasets.Dataset.from_dict({"text": ["a"], "label": [0]})}).save_to_disk(
        tmp_path / "odd")
    with pytest.raises(DataError, match=r"has splits \['extra'\]; none is named train/validation/test"):
        load_hf_dataset(str(tmp_path / "odd"))
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(DataError, match="could not load the dataset folder .*save_to_disk"):
        load_hf_dataset(str(tmp_path / "empty_dir"))


# -- bad input ----------------------------------------------------------------------------------------------------


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(DataError, match=r"data file .*nope\.csv does not exist\. Check the path"):
        load_table(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="is a folder; pass a .csv/.tsv/.jsonl/.parquet file, or use load_image_folder"):
        load_table(tmp_path)
    with pytest.raises(DataError, match="does not exist or is not a folder"):
        load_image_folder(tmp_path / "nope")


@pytest.mark.parametrize(("name", "match"), [("d.txt", r"unsupported file type \.txt .*use \.csv, \.tsv, \.jsonl or"),
                                             ("d.json", r"\.json array: write one object per line as \.jsonl"),
                                             ("data", r"\(no extension\)")])
def test_unsupported_extension(tmp_path, name, match):
    (tmp_path / name).write_text("text,label\na,1\n")
    with pytest.raises(DataError, match=match):
        load_table(tmp_path / name)


@pytest.mark.parametrize("suffix", FORMATS)
def test_missing_column_lists_the_columns(tmp_path, suffix):
    path = write_table(tmp_path / f"d{suffix}", {"sentence": TEXTS, "label": STR_LABELS})
    with pytest.raises(DataError, match=r"no input column 'text'; its columns are \['sentence', 'label'\]\. "
                                        r"Name the right one with text_column= \(--text-column"):
        load_table(path)
    with pytest.raises(DataError, match=r"no label column 'y'.*label_column="):
        load_table(path, "sentence", "y")
    with pytest.raises(DataError, match=r"no split column 'part'.*split_column="):
        load_table(path, "sentence", split_column="part")
    with pytest.raises(DataError, match=r"no group column 'doc'.*group_column="):
        load_table(path, "sentence", group_column="doc")


@pytest.mark.parametrize("suffix", FORMATS)
def test_header_only(tmp_path, suffix):
    if suffix == ".jsonl":
        path = tmp_path / "d.jsonl"
        path.write_text("\n")
    elif suffix == ".parquet":
        path = tmp_path / "d.parquet"
        pq.write_table(pa.table({"text": pa.array([], pa.string()), "label": pa.array([], pa.int64())}), path)
    else:
        path = write_table(tmp_path / f"d{suffix}", {"text": [], "label": []})
    with pytest.raises(DataError, match="has no rows.*add one row per example"):
        load_table(path)


def test_empty_csv(tmp_path):
    (tmp_path / "e.csv").write_bytes(b"")
    with pytest.raises(DataError, match=r"e\.csv is empty: expected a header line"):
        load_table(tmp_path / "e.csv")


@pytest.mark.parametrize("suffix", FORMATS)
def test_single_class(tmp_path, suffix):
    path = write_table(tmp_path / f"d{suffix}", {"text": TEXTS, "label": ["pos"] * N})
    with pytest.raises(DataError, match=r"all 30 labels are 'pos', a single class"):
        load_table(path)


@pytest.mark.parametrize("suffix", FORMATS)
@pytest.mark.parametrize("hole", [None, "", "nan"], ids=["null", "empty", "nan"])
def test_missing_labels_name_rows(tmp_path, suffix, hole):
    if hole == "nan":
        labels: list = [float(i % 2) for i in range(N)]
        labels[5] = labels[17] = float("nan")
    else:
        labels = list(STR_LABELS)
        labels[5] = labels[17] = hole
    if suffix in (".csv", ".tsv") and hole is None:
        labels[5] = labels[17] = ""  # a CSV has no null, only an empty cell
    path = write_table(tmp_path / f"d{suffix}", {"text": TEXTS, "label": labels})
    with pytest.raises(DataError, match=r"2 of 30 rows have no label .* rows 5, 17 \(0-based data rows\)"):
        load_table(path)


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_text_not_a_string(tmp_path, suffix):
    if suffix == ".jsonl":
        path = tmp_path / "d.jsonl"
        rows = [{"text": t, "label": y} for t, y in zip(TEXTS, STR_LABELS, strict=True)]
        rows[3]["text"] = 12345
        rows[8]["text"] = None
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        match = r"row 3: text is int \(12345\), not a string; 2 rows have no usable text \(rows 3, 8"
    else:
        path = tmp_path / "d.parquet"
        pq.write_table(pa.table({"text": list(range(N)), "label": STR_LABELS}), path)
        match = r"row 0: text is int \(0\), not a string; 30 rows"
    with pytest.raises(DataError, match=match):
        load_table(path)


def test_empty_text_refused(tmp_path):
    texts = list(TEXTS)
    texts[6] = ""
    texts[10] = "   "
    path = write_table(tmp_path / "d.csv", {"text": texts, "label": STR_LABELS})
    with pytest.raises(DataError, match=r"row 6: text is empty; 2 rows have no usable text \(rows 6, 10"):
        load_table(path)


def test_not_utf8_csv_tsv_jsonl(tmp_path):
    good = "".join(f"t{i},{i % 2}\n" for i in range(10)).encode()
    (tmp_path / "l1.csv").write_bytes(b"text,label\n" + good + b"caf\xe9,1\n")
    with pytest.raises(DataError, match=r"l1\.csv is not UTF-8 text: line 12 holds the byte 0xe9.*Re-encode it as"):
        load_table(tmp_path / "l1.csv")
    (tmp_path / "l1.tsv").write_bytes(b"text\tlabel\nok\t1\nnot ok\t\xff\n")
    with pytest.raises(DataError, match=r"line 3 holds the byte 0xff.*Re-encode"):
        load_table(tmp_path / "l1.tsv")
    (tmp_path / "u16.csv").write_bytes("text,label\na,1\n".encode("utf-16"))
    with pytest.raises(DataError, match=r"is UTF-16 text .*not UTF-8\. Re-encode it as UTF-8"):
        load_table(tmp_path / "u16.csv")
    lines = [json.dumps({"text": f"t{i}", "label": i % 2}).encode() for i in range(5)]
    lines[3] = b'{"text": "caf\xe9", "label": 1}'
    (tmp_path / "l1.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(DataError, match=r"l1\.jsonl is not UTF-8 text: line 4 holds the byte 0xe9.*Re-encode"):
        load_table(tmp_path / "l1.jsonl")


def test_not_utf8_found_past_the_first_chunk(tmp_path):
    from probewise.data.files import _check_utf8

    path = tmp_path / "big.csv"
    path.write_bytes(b"text,label\n" + b"abcdefgh,1\n" * 100 + b"\xe9,0\n")
    with pytest.raises(DataError, match="line 102 holds the byte 0xe9"):
        _check_utf8(path, chunk_size=64)


def test_malformed_json_line(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a", "label": 1}\n\n{"text": "b", "label": 0\n')
    with pytest.raises(DataError, match=r"d\.jsonl:3: not valid JSON \(Expecting ',' delimiter at column \d+\)"):
        load_table(path)
    path.write_text('{"text": "a", "label": 1}\n["b", 0]\n')
    with pytest.raises(DataError, match=r"d\.jsonl:2: a JSON list, not an object"):
        load_table(path)


def test_ragged_csv(tmp_path):
    (tmp_path / "r.csv").write_text("text,label\na,1\nb,0,extra\n")
    with pytest.raises(DataError, match=r"could not parse .*r\.csv as CSV: .*Expected 2 columns.*as many fields"):
        load_table(tmp_path / "r.csv")


def test_not_parquet(tmp_path):
    (tmp_path / "x.parquet").write_text("text,label\n")
    with pytest.raises(DataError, match=r"could not read .*x\.parquet as Parquet"):
        load_table(tmp_path / "x.parquet")


@pytest.mark.parametrize("suffix", FORMATS)
def test_continuous_labels(tmp_path, suffix):
    path = write_table(tmp_path / f"d{suffix}", {"text": TEXTS, "label": [i / 7 for i in range(N)]})
    with pytest.raises(DataError, match=r"labels look like continuous values: 25 rows.*row 1.*bin the values"):
        load_table(path)


def test_split_column_unknown_value_and_no_train(tmp_path):
    split = list(SPLITS)
    split[3] = "holdout"
    path = write_table(tmp_path / "d.csv", {"text": TEXTS, "label": STR_LABELS, "split": split})
    with pytest.raises(DataError, match=r"'holdout' \(first at row 3\).*Use train/val/test"):
        load_table(path, split_column="split")
    path = write_table(tmp_path / "e.csv", {"text": TEXTS, "label": STR_LABELS, "split": ["val", "test"] * 15})
    with pytest.raises(DataError, match=r"no train rows \(found 15 val, 15 test\)"):
        load_table(path, split_column="split")


def test_fractions_out_of_range(tmp_path):
    path = write_table(tmp_path / "d.csv", {"text": TEXTS, "label": STR_LABELS})
    with pytest.raises(ConfigError, match=r"val_frac=1\.5 must be in \(0, 1\)"):
        load_table(path, val_frac=1.5)
    with pytest.raises(ConfigError, match="leaves no training data"):
        load_table(path, val_frac=0.5, test_frac=0.6)


def test_class_too_small_to_stratify(tmp_path):
    labels = ["a"] * 27 + ["rare"] * 2 + ["a"]
    path = write_table(tmp_path / "d.csv", {"text": TEXTS, "label": labels})
    with pytest.raises(DataError, match=r"at least 3 examples per class.*'rare' \(2\).*split column"):
        load_table(path)


def test_image_folder_errors(tmp_path):
    root = tmp_path / "loose"
    _png(root / "a.png", 0)
    with pytest.raises(DataError, match=r"no images found under .*<class>/<image>\.png.*1 images directly"):
        load_image_folder(root)


# -- Examples.fingerprint ----------------------------------------------------------------------------------------

_PRINTS = """
import sys, numpy as np
from PIL import Image
from probewise.data import Examples
texts = [f"t{i}" for i in range(12)]
labels = ["a", "b"] * 6
print(Examples.from_lists(texts, labels, seed=0).fingerprint())
print(Examples.from_lists(np.arange(24, dtype=np.float32).reshape(12, 2), labels, modality="tensor").fingerprint())
imgs = [Image.new("RGB", (3, 3), (i, 0, 0)) for i in range(12)]
print(Examples.from_lists(imgs, labels, modality="image").fingerprint())
arrs = [np.full((2, 2), i, np.uint8) for i in range(12)]
print(Examples.from_lists(arrs, labels, modality="image").fingerprint())
"""


def test_fingerprint_stable_across_processes():
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", _PRINTS], capture_output=True, text=True, env=env, check=True)
    theirs = out.stdout.split()
    labels = ["a", "b"] * 6
    ours = [
        Examples.from_lists([f"t{i}" for i in range(12)], labels, seed=0).fingerprint(),
        Examples.from_lists(np.arange(24, dtype=np.float32).reshape(12, 2), labels, modality="tensor").fingerprint(),
        Examples.from_lists([Image.new("RGB", (3, 3), (i, 0, 0)) for i in range(12)], labels,
                            modality="image").fingerprint(),
        Examples.from_lists([np.full((2, 2), i, np.uint8) for i in range(12)], labels, modality="image").fingerprint(),
    ]
    assert theirs == ours
    assert len(set(ours)) == 4 and all(len(h) == 64 for h in ours)


def test_fingerprint_changes_with_any_content(tmp_path):
    texts = [f"t{i}" for i in range(12)]
    labels = ["a", "b"] * 6
    base = Examples.from_lists(texts, labels, seed=0)
    assert base.fingerprint() == base.fingerprint() == Examples.from_lists(texts, labels, seed=0).fingerprint()
    changed_text = Examples.from_lists(texts[:-1] + ["t11 "], labels, seed=0)
    changed_label = Examples.from_lists(texts, labels[:-1] + ["a"], seed=0)
    changed_split = Examples.from_lists(texts, labels, seed=1)
    with_groups = Examples.from_lists(texts, labels, groups=[i // 2 for i in range(12)], seed=0)
    renamed = Examples(base.inputs, base.labels, ("x", "y"), base.split)
    prints = {x.fingerprint() for x in (base, changed_text, changed_label, changed_split, with_groups, renamed)}
    assert len(prints) == 6
    assert (changed_split.split != base.split).any()


def test_fingerprint_of_images_by_content(tmp_path):
    labels = ["a", "b"] * 3
    a = [Image.new("RGB", (3, 3), (i, 0, 0)) for i in range(6)]
    b = [Image.new("RGB", (3, 3), (i, 0, 0)) for i in range(6)]  # new objects, same pixels
    fa = Examples.from_lists(a, labels, modality="image").fingerprint()
    assert fa == Examples.from_lists(b, labels, modality="image").fingerprint()
    b[2] = Image.new("RGB", (3, 3), (2, 0, 1))
    assert fa != Examples.from_lists(b, labels, modality="image").fingerprint()
    gray = [im.convert("L") for im in a]
    assert fa != Examples.from_lists(gray, labels, modality="image").fingerprint()
    # image paths: by path and file size
    paths = [str(_png(tmp_path / f"{i}.png", i)) for i in range(6)]
    fp = Examples.from_lists(paths, labels, modality="image").fingerprint()
    assert fp == Examples.from_lists(list(paths), labels, modality="image").fingerprint()
    Image.new("RGB", (8, 8)).save(paths[0])
    assert fp != Examples.from_lists(paths, labels, modality="image").fingerprint()


def test_fingerprint_of_arrays_by_content():
    labels = ["a", "b"] * 3
    x = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    f = Examples.from_lists(x, labels, modality="tensor").fingerprint()
    assert f == Examples.from_lists(x.copy(), labels, modality="tensor").fingerprint()
    assert f != Examples.from_lists(x.astype(np.float64), labels, modality="tensor").fingerprint()
    y = x.copy()
    y[5, 3] += 1e-3
    assert f != Examples.from_lists(y, labels, modality="tensor").fingerprint()
    rows = [r for r in x]
    g = Examples.from_lists(rows, labels, modality="image").fingerprint()
    assert g == Examples.from_lists([r.copy() for r in x], labels, modality="image").fingerprint()


def test_fingerprint_refuses_objects_without_stable_content():
    ex = Examples.from_lists([object() for _ in range(6)], ["a", "b"] * 3, modality="image")
    with pytest.raises(DataError, match="cannot fingerprint an input of type object"):
        ex.fingerprint()


def test_text_fingerprint_unchanged_from_earlier_releases():
    """Stores written before the content hashing of images keep their identity (the text recipe is unchanged)."""
    import hashlib

    ex = Examples.from_lists([f"t{i}" for i in range(6)], ["a", "b"] * 3, seed=0)
    h = hashlib.sha256()
    h.update(json.dumps({"modality": "text", "classes": ["a", "b"]}).encode())
    for t in ex.inputs:
        h.update(t.encode() + b"\x00")
    h.update(ex.labels.astype(np.int64).tobytes())
    h.update(ex.split.astype(np.int8).tobytes())
    assert ex.fingerprint() == h.hexdigest()


def test_corrupt_and_truncated_images_are_named(tmp_path):
    from probewise.data.files import open_rgb

    root = tmp_path / "pets"
    for cls in ("cat", "dog"):
        for i in range(3):
            _png(root / cls / f"{i}.png", i * 10)
    (root / "dog" / "bad.png").write_bytes(b"\x00not a png at all")
    with pytest.raises(DataError, match=r"1 of 7 files under .* are not readable images.*bad\.png"):
        load_image_folder(root)
    import io

    import numpy as np
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buf, "PNG")
    (root / "dog" / "bad.png").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])  # header kept, pixels cut
    ex = load_image_folder(root)  # the header is fine: found when the pixels are decoded
    assert ex.n == 7
    with pytest.raises(DataError, match=r"bad\.png is corrupt or truncated .* finished shards are kept"):
        open_rgb(str(root / "dog" / "bad.png"))
    assert open_rgb(str(root / "cat" / "0.png")).mode == "RGB"
