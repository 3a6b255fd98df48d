"""Report, figures, leaderboard and the report/compare commands on small constructed results (no model needed)."""

from __future__ import annotations

import argparse
import json
import math
from html.parser import HTMLParser

import numpy as np
import pytest

from probewise.errors import ConfigError, DataError, ProbewiseError
from probewise.report.commands import add_parsers
from probewise.report.compare import leaderboard, load_results, pick_probe
from probewise.report.figures import export_figures, few_shot_points
from probewise.report.html import render_report, write_report
from probewise.sweeps.results import SweepResult


def _est(v, lo=None, hi=None, n=60):
    lo = v - 0.05 if lo is None else lo
    hi = v + 0.05 if hi is None else hi
    return {"value": v, "low": lo, "high": hi, "n": n, "n_boot": 100, "seed": 0, "alpha": 0.05, "n_skipped": 0}


def make_result(task="negation", model="m1", sel=(0.9, 0.85, 0.95), *, k=2, fp=None, probes=("logistic",),
                layers=4, extras=False, predictions=True, seed=0) -> SweepResult:
    """A SweepResult shaped as `sweep` writes it; `sel` is the selected (value, low, high) test accuracy."""
    rng = np.random.default_rng(seed)
    per_layer, selected = [], {}
    y = np.arange(60) % k
    probs = 0.5 * np.eye(k)[y] + 0.5 * rng.dirichlet(np.ones(k), 60)
    for pi, probe in enumerate(probes):
        for layer in range(layers):
            acc = min(0.99, 0.55 + 0.1 * layer - 0.03 * pi)
            row = {"probe": probe, "layer": str(layer), "param": "C", "value": 10.0 ** (layer - 2),
                   "val": {"accuracy": acc + 0.01, "log_loss": 0.6 - 0.05 * layer - 0.01 * pi},
                   "train": {"accuracy": 0.99}, "test": {"accuracy": _est(acc), "log_loss": _est(0.6)}}
            if extras:
                row.update(control={"accuracy": _est(1 / k + 0.04)}, params=385 * max(1, k - 1), train_seconds=0.25)
            per_layer.append(row)
        last = per_layer[-1]
        selected[probe] = {"layer": last["layer"], "param": "C", "value": last["value"], "select_metric": "accuracy",
                           "val": last["val"], "refit": False,
                           "test": {"accuracy": _est(sel[0] - 0.03 * pi, sel[1] - 0.03 * pi, sel[2] - 0.03 * pi),
                                    "log_loss": _est(0.4 + 0.1 * pi)}}
        if predictions:
            selected[probe]["test_predictions"] = {"y": y.tolist(), "probs": np.round(probs, 6).tolist()}
        if extras:
            selected[probe]["few_shot"] = [{"n_per_class": n, "test": {"accuracy": _est(0.5 + 0.1 * i)}}
                                           for i, n in enumerate((1, 4, 16, 64))]
    store = {"path": f"/runs/{task}", "model": model, "model_fingerprint": f"mfp-{model}", "dataset": task,
             "dataset_fingerprint": fp or f"dfp-{task}", "pooling": "mean", "classes": [f"c{i}" for i in range(k)],
             "split_sizes": {"train": 200, "val": 40, "test": 60}, "split_seed": 0}
    baselines, geometry = {}, []
    if extras:
        baselines = {"majority": {"name": "majority", "test": {"accuracy": _est(0.5)}, "chosen": {"class": 0}},
                     f"random_direction@{layers - 1}": {"name": "random_direction", "test": {"accuracy": _est(0.58)},
                                                        "chosen": {"seed": 0}}}
        geometry = [{"layer": str(i), "n": 200, "d": 16, "mean_norm": 1.5 * i, "effective_rank": 3.25,
                     "mean_class_cosine": 0.5, "classes": ["c0", "c1"], "class_cosines": [[1, 0.5], [0.5, 1]]}
                    for i in range(layers)]
    config = {"probes": list(probes), "select": "accuracy", "engine": "torch", "n_boot": 100, "seed": 7,
              "refit": False}
    return SweepResult([], per_layer, selected, store, config, {f"{p}_fit_seconds": 0.5 for p in probes},
                       baselines=baselines, geometry=geometry)


class Tables(HTMLParser):
    """Collects every table as rows of cell texts, every svg's path count, ids and external references."""

    def __init__(self):
        super().__init__()
        self.tables, self.svg_paths, self.ids, self.external = [], [], [], []
        self._cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        for key in ("src", "href"):
            if (a.get(key) or "").startswith(("http:", "https:", "//")):
                self.external.append(a[key])
        if tag in ("link", "iframe", "img", "object", "embed"):
            self.external.append(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self.tables:
            self._cell = []
        elif tag == "svg":
            self.svg_paths.append(0)
        elif tag == "path" and self.svg_paths:
            self.svg_paths[-1] += 1

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).replace("\u202f", " ").strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parse(text: str) -> Tables:
    p = Tables()
    p.feed(text)
    return p


# -- leaderboard ---------------------------------------------------------------------------------------------------
@pytest.fixture
def four():
    return [make_result("negation", "m1", (0.9, 0.85, 0.95)), make_result("word_order", "m1", (0.7, 0.6, 0.8)),
            make_result("negation", "m2", (0.8, 0.7, 0.9)), make_result("word_order", "m2", (0.75, 0.7, 0.8))]


def test_leaderboard_markdown(four):
    assert leaderboard(four).to_markdown() == "\n".join([
        "| model | negation | word_order | mean |",
        "| :--- | ---: | ---: | ---: |",
        "| m1 | **0.900 ± 0.050** | 0.700 ± 0.100 | **0.800** |",
        "| m2 | 0.800 ± 0.100 | **0.750 ± 0.050** | 0.775 |",
        "",
        "*Test accuracy of the probe chosen on validation (family, layer, hyperparameter); ± half-width of the 95% "
        "bootstrap CI; bold: best per column.*",
    ])


def test_leaderboard_latex(four):
    assert leaderboard(four).to_latex() == "\n".join([
        "% Test accuracy of the probe chosen on validation (family, layer, hyperparameter); +/- half-width of the 95% "
        "bootstrap CI; bold: best per column.",
        r"\begin{tabular}{lrrr}",
        r"\toprule",
        r"Model & negation & word\_order & Mean \\",
        r"\midrule",
        r"m1 & \textbf{0.900} $\pm$ 0.050 & 0.700 $\pm$ 0.100 & \textbf{0.800} \\",
        r"m2 & 0.800 $\pm$ 0.100 & \textbf{0.750} $\pm$ 0.050 & 0.775 \\",
        r"\bottomrule",
        r"\end{tabular}",
    ])


def test_leaderboard_missing_cell_ties_and_lower_is_better(four):
    lb = leaderboard(four[:3])  # m2 lacks word_order: no mean, a dash
    assert lb.to_markdown(caption=False).splitlines()[-1] == "| m2 | 0.800 ± 0.100 | — | — |"
    assert "m2 & 0.800 $\\pm$ 0.100 & -- & -- \\\\" in lb.to_latex()
    tie = leaderboard([make_result("t", "a", (0.8, 0.7, 0.9)), make_result("t", "b", (0.8, 0.75, 0.85))])
    assert tie.best("t") == {"a", "b"}
    ll = leaderboard(four, "log_loss")  # lower is better: every model has 0.400, all bold
    assert not ll.greater_is_better and ll.best("negation") == {"m1", "m2"}


def test_leaderboard_html_table_is_plain_html(four):
    t = parse(leaderboard(four).to_html()).tables[0]
    assert t[0] == ["model", "negation", "word_order", "mean"]
    assert t[1] == ["m1", "0.900 ± 0.050", "0.700 ± 0.100", "0.800"]
    assert "<strong>0.900</strong>" in leaderboard(four).to_html()


def test_leaderboard_refuses_mixed_datasets_unless_asked():
    a = make_result("negation", "m1", fp="aaaa1111")
    b = make_result("negation", "m2", fp="bbbb2222")
    with pytest.raises(DataError, match="aaaa1111.*bbbb2222") as e:
        leaderboard([a, b])
    assert "allow_mixed" in str(e.value) and "--allow-mixed" in str(e.value)
    lb = leaderboard([a, b], allow_mixed=True)
    assert lb.mixed == ["negation"] and "negation†" in lb.to_markdown()
    assert r"negation$^\dagger$" in lb.to_latex()


def test_leaderboard_bad_input():
    with pytest.raises(DataError, match="no results"):
        leaderboard([])
    with pytest.raises(DataError, match="two results for model 'm1' on task 'negation'"):
        leaderboard([make_result(), make_result()])
    with pytest.raises(ConfigError, match="metric 'r2' is not in the test results"):
        leaderboard([make_result()], "r2")
    with pytest.raises(ConfigError, match="probe 'mlp' is not in the results"):
        leaderboard([make_result()], probe="mlp")


def test_probe_is_picked_on_validation_and_names_disambiguated():
    res = make_result(probes=("logistic", "ridge"))
    res.selected["ridge"]["val"] = {"accuracy": 0.99}
    assert pick_probe(res) == "ridge"  # best val, even though its test score is lower
    other = make_result("negation", "m1", seed=1)
    other.store["pooling"] = "last"
    lb = leaderboard([make_result(), other])
    assert lb.models == ["m1 (mean)", "m1 (last)"]


# -- loading results -----------------------------------------------------------------------------------------------
def test_load_results_from_folders_and_bad_files(tmp_path):
    (tmp_path / "runs" / "a").mkdir(parents=True)
    make_result("negation").save(tmp_path / "runs" / "a" / "negation")
    make_result("tense").save(tmp_path / "runs" / "tense")
    (tmp_path / "runs" / "manifest.json").write_text(json.dumps({"format": "probewise-store"}))
    assert [r.store["dataset"] for r in load_results([tmp_path / "runs"])] == ["negation", "tense"]

    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no probewise results found in .*empty"):
        load_results([tmp_path / "empty"])
    with pytest.raises(DataError, match="does not exist"):
        load_results([tmp_path / "nope"])
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    with pytest.raises(ProbewiseError, match="is not a probewise results file"):
        load_results([other])
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ProbewiseError, match="not valid JSON"):
        load_results([broken])
    newer = tmp_path / "newer" / "r.json"
    newer.parent.mkdir()
    newer.write_text(json.dumps({**make_result().to_dict(), "schema_version": 99}))
    with pytest.raises(ProbewiseError, match="has results schema 99.*Re-run the sweep"):
        load_results([newer.parent])


# -- HTML report ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def report_html():
    results = [make_result("negation", "m1", probes=("logistic", "ridge"), extras=True),
               make_result("sentence_length", "m1", (0.8, 0.7, 0.9), k=3, seed=1),
               make_result("negation", "m2", (0.85, 0.8, 0.9), seed=2)]
    return render_report(results, title="Test report"), results


def test_report_tables_without_javascript(report_html):
    text, _ = report_html
    p = parse(text)
    summary = p.tables[0]
    assert summary[0] == ["task", "model", "probe", "layer", "chosen hyperparam", "val accuracy",
                          "test accuracy [95% CI]", "selectivity", "params", "train s"]
    assert summary[1] == ["negation", "m1", "logistic ●", "3", "C=10", "0.860", "0.900 [0.850, 0.950]", "0.360",
                          "385", "0.25"]
    assert summary[2][:7] == ["negation", "m1", "ridge", "3", "C=10", "0.830", "0.870 [0.820, 0.920]"]
    assert [r[:3] for r in summary[3:]] == [["negation", "m2", "logistic"], ["sentence_length", "m1", "logistic"]]
    board = next(t for t in p.tables if t[0][:1] == ["model"] and "mean" in t[0])
    assert board[0] == ["model", "negation", "sentence_length", "mean"]
    assert board[1] == ["m1", "0.900 ± 0.050", "0.800 ± 0.100", "0.850"]
    assert board[2] == ["m2", "0.850 ± 0.050", "—", "—"]
    layer_table = next(t for t in p.tables if t[0][:2] == ["probe", "layer"])
    assert layer_table[0][-2:] == ["control", "selectivity"] and layer_table[4][1] == "3 ★"
    base = next(t for t in p.tables if t[0][0] == "baseline")
    assert base[1:] == [["majority", "0.500 [0.450, 0.550]", "class c0"],  # the class's name, not its index
                        ["random_direction@3", "0.580 [0.530, 0.630]", "seed 0"]]
    geo = next(t for t in p.tables if t[0][:2] == ["layer", "n"])
    assert geo[0] == ["layer", "n", "d", "mean norm", "effective rank", "mean class cosine"]
    assert geo[3] == ["2", "200", "16", "3.000", "3.250", "0.500"]
    kv = {r[0]: r[1] for t in p.tables for r in t if len(r) == 2}
    assert kv["torch"] and kv["transformers"] and kv["torch"] != "not installed"  # the environment names them
    assert kv["sweep seed"] == "7" and kv["probewise version (sweep)"] and kv["split sizes"].startswith('{"train": 200')
    prov = next(t for t in p.tables if "dataset fingerprint" in t[0])
    assert ["negation", "m1", "mfp-m1", "dfp-negation"] == [prov[1][prov[0].index(h)] for h in
                                                            ("task", "model", "model fingerprint",
                                                             "dataset fingerprint")]


def test_report_plots_inline_and_self_contained(report_html):
    text, _ = report_html
    p = parse(text)
    # negation/m1: layers, reliability, roc, confusion, few-shot; sentence_length: 4 (no few-shot); negation/m2: 4
    assert len(p.svg_paths) == 5 + 4 + 4 and min(p.svg_paths) > 20
    assert p.external == [] and "<script src" not in text and "@import" not in text and "url(http" not in text
    assert len(p.ids) == len(set(p.ids)), "duplicate ids across inline SVGs"
    assert "micro-averaged over one-vs-rest" in text and "positive class <code>c1</code>" in text
    assert "Leaderboard: models × tasks" in text and "<title>Test report</title>" in text


def test_write_report_edge_cases(tmp_path):
    bare = make_result(predictions=False)
    bare.per_layer.append({**bare.per_layer[0], "layer": "2+3"})  # a combined-layer row is tabled, not plotted
    for row in [*bare.per_layer, bare.selected["logistic"]]:
        for e in row["test"].values():
            e["low"] = e["high"] = math.nan  # n_boot = 0
    out = write_report([bare], tmp_path / "sub" / "r.html")
    p = parse(out.read_text())
    assert p.tables[0][0][5:] == ["test accuracy [95% CI]", "grid fit s"]
    assert len(p.svg_paths) == 1 and p.tables[0][1][5:] == ["0.900", "0.50"]
    assert any(r[:2] == ["logistic", "2+3"] for t in p.tables for r in t)
    with pytest.raises(DataError, match="no results"):
        write_report([], tmp_path / "x.html")
    with pytest.raises(ConfigError, match="metric 'r2'"):
        write_report([bare], tmp_path / "x.html", metric="r2")


def test_few_shot_shapes():
    label, pts = few_shot_points({"16": {"value": 0.8, "low": 0.7, "high": 0.9}, "4": 0.6})
    assert label == "training examples" and pts[1] == (16.0, 0.8, 0.7, 0.9)
    assert pts[0][:2] == (4.0, 0.6) and math.isnan(pts[0][2])
    label, pts = few_shot_points({"points": [{"shots": 2, "accuracy": 0.5}, {"shots": 1, "accuracy": 0.4}]})
    assert label == "shots per class" and [p[:2] for p in pts] == [(1.0, 0.4), (2.0, 0.5)]
    assert few_shot_points([{"nothing": 1}]) is None and few_shot_points("junk") is None


def test_export_figures(tmp_path):
    results = [make_result("negation", extras=True), make_result("sentence_length", k=3)]
    pngs = export_figures(results, tmp_path / "png", "png", dpi=60)
    assert sorted(p.name for p in pngs) == sorted([
        "negation_layers.png", "negation_reliability.png", "negation_roc.png", "negation_few_shot.png",
        "negation_confusion.png",
        "sentence_length_layers.png", "sentence_length_reliability.png", "sentence_length_roc.png",
        "sentence_length_confusion.png"])
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    svgs = export_figures(results[1:], tmp_path / "svg", "svg")
    assert len(svgs) == 4 and all("<svg" in p.read_text() for p in svgs)
    with pytest.raises(ConfigError, match="figure format 'jpg'"):
        export_figures(results, tmp_path, "jpg")


# -- commands ------------------------------------------------------------------------------------------------------
def run(argv):
    parser = argparse.ArgumentParser(prog="probewise")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args([str(a) for a in argv])
    return args.func(args)


def test_report_command(tmp_path, capsys):
    runs = tmp_path / "runs"
    make_result("negation").save(runs / "negation")
    make_result("sentence_length", k=3).save(runs / "sentence_length")
    out = tmp_path / "r.html"
    assert run(["report", runs, "-o", out, "--title", "My probes", "--figure-format", "svg",
                "--figures-dir", tmp_path / "figs"]) == 0
    assert "<title>My probes</title>" in out.read_text() and len(list((tmp_path / "figs").glob("*.svg"))) == 8
    assert "wrote 8 figures" in capsys.readouterr().out
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no probewise results found"):
        run(["report", tmp_path / "empty", "-o", out])
    old = tmp_path / "old.json"
    old.write_text(json.dumps({**make_result().to_dict(), "schema_version": 0}))
    with pytest.raises(ProbewiseError, match="has results schema 0"):
        run(["report", old, "-o", out])


def test_compare_command(tmp_path, capsys, four):
    for r in four:
        r.save(tmp_path / "runs" / r.store["model"] / r.store["dataset"])
    md, tex, page = tmp_path / "lb.md", tmp_path / "lb.tex", tmp_path / "lb.html"
    assert run(["compare", tmp_path / "runs", "--markdown", md, "--latex", tex, "-o", page]) == 0
    printed = capsys.readouterr().out
    assert "| m1 | **0.900 ± 0.050** |" in printed and "wrote" in printed
    assert md.read_text() == leaderboard(four).to_markdown() + "\n"
    assert tex.read_text().startswith("% Test accuracy") and r"\bottomrule" in tex.read_text()
    board = parse(page.read_text()).tables[0]
    assert board[0] == ["model", "negation", "word_order", "mean"] and board[2][0] == "m2"
    mixed = make_result("negation", "m3", fp="other-fp")
    mixed.save(tmp_path / "runs" / "m3" / "negation")
    with pytest.raises(DataError, match="dfp-negation.*other-fp|other-fp.*dfp-negation"):
        run(["compare", tmp_path / "runs"])
    assert run(["compare", tmp_path / "runs", "--allow-mixed", "--metric", "log_loss"]) == 0
    assert "negation†" in capsys.readouterr().out
