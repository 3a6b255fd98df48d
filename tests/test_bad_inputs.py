"""The bad-input catalog (docs/bad-inputs.md): each bad input gives one clear error line, exit code 2, and leaves
every existing store byte-for-byte unchanged."""

import hashlib
import json
from pathlib import Path

import pytest

from probewise.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    splits = ["train", "train", "val", "test"]
    rows = "".join(f"{'a fine' if i % 2 else 'a poor'} thing {i},{i % 2},{splits[(i // 2) % 4]}\n" for i in range(40))
    (root / "good.csv").write_text("text,label,split\n" + rows)
    (root / "header_only.csv").write_text("text,label\n")
    (root / "one_class.csv").write_text("text,label\n" + "".join(f"t{i},x\n" for i in range(10)))
    (root / "missing_labels.csv").write_text("text,label\n" + "".join(f"t{i},{'' if i == 4 else i % 2}\n"
                                                                       for i in range(10)))
    (root / "latin1.csv").write_bytes("text,label\ncaf\xe9,1\nthe,0\n".encode("latin-1"))
    (root / "floats.csv").write_text("text,label\n" + "".join(f"t{i},{i * 0.37:.2f}\n" for i in range(12)))
    (root / "bad_split.csv").write_text("text,label,split\n" + "".join(f"t{i},{i % 2},holdout\n" for i in range(8)))
    (root / "numbers.jsonl").write_text("".join(json.dumps({"text": 7 if i == 2 else f"t{i}", "label": i % 2}) + "\n"
                                                for i in range(10)))
    (root / "broken.jsonl").write_text('{"text": "a", "label": 1}\n{"text": "b", "label": \n')
    (root / "data.txt").write_text("hello\n")
    (root / "mine").mkdir()
    (root / "mine" / "notes.md").write_text("precious")
    (root / "bad.yaml").write_text("lyers: 3\n")
    (root / "results").mkdir()
    (root / "old.json").write_text(json.dumps({"format": "probewise-results", "schema_version": 99}))
    assert main(["extract", "--data", str(root / "good.csv"), "--split-column", "split", "--layers", "0,1",
                 "--out", str(root / "store"), "--no-progress", "--device", "cpu"]) == 0
    return root


def _snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".lock" and "results" not in p.parts}


EXTRACT = ["extract", "--no-progress", "--device", "cpu"]
CASES = [
    # files and columns
    (EXTRACT + ["--data", "{ws}/nope.csv", "--out", "{ws}/o1"], "does not exist"),
    (EXTRACT + ["--data", "{ws}/mine", "--out", "{ws}/o2"], "is a folder"),
    (EXTRACT + ["--data", "{ws}/data.txt", "--out", "{ws}/o3"], "unsupported file type"),
    (EXTRACT + ["--data", "{ws}/good.csv", "--text-column", "review", "--out", "{ws}/o4"], "no input column"),
    (EXTRACT + ["--data", "{ws}/good.csv", "--label-column", "y", "--out", "{ws}/o5"], "no label column"),
    (EXTRACT + ["--data", "{ws}/header_only.csv", "--out", "{ws}/o6"], "no rows"),
    # labels, text, encodings
    (EXTRACT + ["--data", "{ws}/one_class.csv", "--out", "{ws}/o7"], "single class"),
    (EXTRACT + ["--data", "{ws}/missing_labels.csv", "--out", "{ws}/o8"], "no label"),
    (EXTRACT + ["--data", "{ws}/numbers.jsonl", "--out", "{ws}/o9"], "not a string"),
    (EXTRACT + ["--data", "{ws}/latin1.csv", "--out", "{ws}/o10"], "not UTF-8"),
    (EXTRACT + ["--data", "{ws}/broken.jsonl", "--out", "{ws}/o11"], "not valid JSON"),
    (EXTRACT + ["--data", "{ws}/floats.csv", "--out", "{ws}/o12"], "continuous"),
    (EXTRACT + ["--data", "{ws}/bad_split.csv", "--split-column", "split", "--out", "{ws}/o13"], "holdout"),
    (EXTRACT + ["--task", "nosuch", "--out", "{ws}/o14"], "nosuch"),
    # model, layers, pooling, dtypes, sizes
    (EXTRACT + ["--data", "{ws}/good.csv", "--layers", "99", "--out", "{ws}/o15"], "layer 99 is not in this model"),
    (EXTRACT + ["--data", "{ws}/good.csv", "--layers", "top", "--out", "{ws}/o16"], "not an index"),
    (EXTRACT + ["--data", "{ws}/good.csv", "--pooling", "median", "--out", "{ws}/o17"], "unknown pooling"),
    (EXTRACT + ["--data", "{ws}/good.csv", "--model", "./no/such/model", "--out", "{ws}/o18"], "does not exist"),
    (EXTRACT + ["--data", "{ws}/good.csv", "--dtype", "float8", "--out", "{ws}/o19"], "unknown dtype"),
    (EXTRACT + ["--data", "{ws}/good.csv", "--batch-size", "0", "--out", "{ws}/o20"], "must be ≥ 1"),
    (EXTRACT + ["--data", "{ws}/good.csv", "--max-length", "0", "--out", "{ws}/o21"], "max_length=0"),
    (EXTRACT + ["--data", "{ws}/good.csv", "--val-frac", "1.5", "--out", "{ws}/o22"], "must be in (0, 1)"),
    # stores and configs
    (EXTRACT + ["--data", "{ws}/good.csv", "--split-column", "split", "--layers", "0,1", "--pooling", "max",
                "--out", "{ws}/store"], "written for another configuration"),
    (EXTRACT + ["--data", "{ws}/good.csv", "--out", "{ws}/mine"], "not a probewise store"),
    (["extract", "--config", "{ws}/bad.yaml", "--out", "{ws}/o25"], "unknown option"),
    (["sweep", "{ws}/nope", "--out", "{ws}/results/r"], "does not exist"),
    (["sweep", "{ws}/store", "--layers", "42", "--out", "{ws}/results/r"], "is not in store"),
    (["sweep", "{ws}/store", "--C-grid", "0,1", "--out", "{ws}/results/r"], "must be > 0"),
    (["sweep", "{ws}/store", "--C-grid", "lots", "--out", "{ws}/results/r"], "comma-separated numbers"),
    (["sweep", "{ws}/store", "--select", "f1", "--out", "{ws}/results/r"], "select="),
    (["sweep", "{ws}/store", "--probe", "svm", "--out", "{ws}/results/r"], "unknown probe"),
    (["sweep", "{ws}/store", "--probe", "multimax", "--out", "{ws}/results/r"], "--pooling tokens"),
    (["sweep", "{ws}/store", "--level", "token", "--out", "{ws}/results/r"], "needs per-token labels"),
    (["info", "{ws}/mine"], "not a probewise store"),
    (["report", "{ws}/results", "-o", "{ws}/results/r.html"], "no"),
    (["report", "{ws}/old.json", "-o", "{ws}/results/r.html"], "schema"),
]


@pytest.mark.parametrize("argv, message", CASES, ids=[f"{i:02d}" for i in range(len(CASES))])
def test_bad_input(ws, capsys, argv, message):
    before = _snapshot(ws)
    capsys.readouterr()
    rc = main([a.replace("{ws}", str(ws)) for a in argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    errors = [line for line in err if line.startswith("probewise: error:")]
    assert len(errors) == 1, err
    assert message.lower() in errors[0].lower(), errors[0]
    assert _snapshot(ws) == before, "a failed run must leave every file as it was"


def test_catalog_is_documented():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "bad-inputs.md").read_text()
    assert doc.count("\n| ") >= len(CASES)
