import json

import pytest

from probewise.cli import main
from tests.conftest import HANG_GUARD_S


@pytest.fixture
def csv_file(tmp_path):
    p = tmp_path / "reviews.csv"
    rows = ["text,label,split"]
    for i in range(40):
        good = i % 2 == 0
        rows.append(f"{'a wonderful' if good else 'a dreadful'} film number {i},{'pos' if good else 'neg'},"
                    f"{['train', 'train', 'val', 'test'][i % 4]}")
    p.write_text("\n".join(rows) + "\n")
    return p


def test_extract_and_info(csv_file, tmp_path, capsys):
    out = tmp_path / "store"
    rc = main(["extract", "--data", str(csv_file), "--split-column", "split", "--layers", "0,6", "--out", str(out),
               "--no-progress", "--device", "cpu"])
    assert rc == 0
    assert "wrote 40 examples × 2 layers" in capsys.readouterr().out
    assert main(["info", str(out), "--verify"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["splits"] == {"train": 20, "val": 10, "test": 10}
    assert info["classes"] == ["neg", "pos"] and info["layers"] == ["0", "6"]
    assert info["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert _into_a_closed_pipe("info", str(out)) == (141, "")  # short output: it meets the pipe at the flush

    # reruns say what they reused instead of "wrote"
    again = ["extract", "--data", str(csv_file), "--split-column", "split", "--layers", "0,6", "--out", str(out),
             "--no-progress", "--device", "cpu"]
    assert main(again) == 0
    assert "reused 40 examples × 2 layers" in capsys.readouterr().out
    import numpy as np

    from probewise import write_features

    rng = np.random.default_rng(0)
    feats = write_features(str(tmp_path / "feats"), rng.normal(size=(2, 90, 4)), rng.integers(0, 2, 90), name="f")
    sweep = ["sweep", str(feats.root), "--C-grid", "0.1,1,10", "--n-boot", "50", "--no-progress",
             "--out", str(tmp_path / "r")]
    assert main(sweep) == 0
    assert "reused" not in capsys.readouterr().out
    assert main(sweep) == 0
    assert "reused 1 of 1 finished sweep jobs" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--data", "missing.csv"], "does not exist"),
        (["--data", "{csv}", "--text-column", "review"], "no input column 'review'"),
        (["--data", "{csv}", "--label-column", "stars"], "no label column 'stars'"),
        (["--data", "{csv}", "--layers", "9"], "layer 9 is not in this model"),
        (["--data", "{csv}", "--model", "./no/such/model"], "does not exist"),
        (["--data", "{csv}", "--pooling", "median"], "unknown pooling"),
        ([], "exactly one data source"),
    ],
)
def test_extract_errors(csv_file, tmp_path, capsys, args, message):
    args = [a.replace("{csv}", str(csv_file)) for a in args]
    rc = main(["extract", *args, "--out", str(tmp_path / "s"), "--no-progress"])
    assert rc == 2
    assert message in capsys.readouterr().err


def test_bad_tables(tmp_path, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_text("text,label\n")
    one = tmp_path / "one.jsonl"
    one.write_text("".join(json.dumps({"text": f"t{i}", "label": "x"}) + "\n" for i in range(5)))
    notstr = tmp_path / "num.jsonl"
    notstr.write_text("".join(json.dumps({"text": i if i == 3 else f"t{i}", "label": i % 2}) + "\n"
                              for i in range(12)))
    for path, msg in ((empty, "no rows"), (one, "single class"), (notstr, "row 3: text is int")):
        assert main(["extract", "--data", str(path), "--out", str(tmp_path / "s"), "--no-progress"]) == 2
        assert msg in capsys.readouterr().err
    assert not (tmp_path / "s").exists(), "a failed run must not create a store"


def test_extract_image_folder_with_vit(tiny_vit, tmp_path, capsys):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls, base in (("dark", 30), ("light", 220)):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for i in range(8):
            arr = np.clip(base + rng.normal(0, 10, (36, 36, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(arr).save(tmp_path / "imgs" / cls / f"{i}.png")
    out = tmp_path / "vstore"
    rc = main(["extract", "--model", tiny_vit, "--image-folder", str(tmp_path / "imgs"), "--pooling", "first",
               "--out", str(out), "--no-progress", "--device", "cpu", "--batch-size", "5"])
    assert rc == 0, capsys.readouterr().err
    from probewise import open_store

    store = open_store(out)
    assert store.n == 16 and store.layers == ["0", "1", "2", "3"] and store.dims["3"] == 32
    assert store.manifest["dataset"]["modality"] == "image"
    assert store.classes == ["dark", "light"]



def _into_a_closed_pipe(*args: str) -> tuple[int, str]:
    """Run `probewise ARGS | head -0`, the reader gone before the interpreter has even started."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # block-buffered, as in a shell
    proc = subprocess.Popen([sys.executable, "-m", "probewise", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    return proc.wait(timeout=HANG_GUARD_S), err


def test_a_closed_pipe_ends_quietly():
    """No traceback, and the status a shell gives a command killed by SIGPIPE."""
    assert _into_a_closed_pipe("tasks", "list") == (141, "")


def test_cli_start_imports_no_torch():
    """`--version`, `--help` and argument errors answer without loading torch, transformers or matplotlib."""
    import subprocess
    import sys

    code = ("import sys\nfrom probewise.cli import main\n"
            "for argv in (['--version'], ['sweep', '--help'], ['extract', '--help'], ['report', '--help'], "
            "['steer', '--help'], ['sweep', '--no-such-flag']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "heavy = sorted(m for m in ('torch', 'transformers', 'matplotlib', 'sklearn') if m in sys.modules)\n"
            "print('HEAVY', heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "HEAVY []"


def test_every_option_has_help_and_shows_its_default():
    import argparse

    from probewise.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing, hidden_defaults = [], []
    for name, sp in sub.choices.items():
        for a in sp._actions:
            if isinstance(a, argparse._HelpAction) or a.help == argparse.SUPPRESS:
                continue
            if not a.help:
                missing.append(f"{name} {a.option_strings or a.dest}")
            elif a.option_strings and a.default is not None and a.default is not False and "default" not in a.help:
                hidden_defaults.append(f"{name} {a.option_strings}")
    assert not missing and not hidden_defaults, (missing, hidden_defaults)
    text = sub.choices["extract"].format_help()
    assert "examples per forward pass (default: 32)" in " ".join(text.split())
    assert "(default: 0)" in " ".join(sub.choices["sweep"].format_help().split())  # a zero default is shown too


def test_one_meaning_per_flag():
    """--probe names probe families (sweep, compare); artifacts are --artifact; --format's old uses are hidden."""
    import argparse

    from probewise.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for cmd in ("monitor", "steer"):
        text = sub.choices[cmd].format_help()
        assert "--artifact" in text and "--probe" not in text
    assert "--results-format" in sub.choices["sweep"].format_help()
    assert "--figure-format" in sub.choices["report"].format_help()
    for cmd in ("sweep", "report"):
        assert "--format " not in sub.choices[cmd].format_help()


def test_lazy_api_keeps_extract_the_function():
    """Importing the submodule probewise.extract first must not turn `probewise.extract` into a module."""
    import subprocess
    import sys

    code = ("import probewise.extract\nimport probewise as pw\nfrom probewise import extract\n"
            "print(callable(extract), callable(pw.extract), pw.extract is extract)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "True", "True"]
