import json
import warnings

import numpy as np
import pytest
import torch

import probewise.sweeps.selection as selection_mod
from probewise.errors import ConfigError, DataError, ProbewiseError
from probewise.store import StoreWriter, open_store
from probewise.sweeps import SweepConfig, SweepResult, sweep
from probewise.sweeps.features import Features

from .conftest import make_store

ENGINES = ["torch", "sklearn"]


def _cfg(**kw):
    base = {"C_grid": (0.01, 1.0, 100.0), "alpha_grid": (0.1, 10.0, 1000.0), "n_boot": 100}
    return SweepConfig(**{**base, **kw})


@pytest.mark.parametrize("engine", ENGINES)
def test_selection_never_sees_test(store3, monkeypatch, engine):
    events = []
    real_read = type(store3).read

    def read(self, layer, split=None, **kw):
        events.append(("read", str(layer), split))
        return real_read(self, layer, split, **kw)

    real_select = selection_mod.select_on_val

    def select(rows, metric):
        for r in rows:
            assert set(r) >= {"val"} and "test" not in r, "selection rows must hold no test numbers"
        events.append(("select", frozenset(r["layer"] for r in rows), None))
        return real_select(rows, metric)

    monkeypatch.setattr(type(store3), "read", read)
    monkeypatch.setattr(selection_mod, "select_on_val", select)
    res = sweep(store3, _cfg(probes=("logistic", "ridge"), engine=engine, layers_per_job=1))
    test_reads = [(i, e[1]) for i, e in enumerate(events) if e[0] == "read" and e[2] == "test"]
    assert {layer for _, layer in test_reads} == {"0", "2"}
    for i, layer in test_reads:  # a layer's test split is read only after its choice was made on val
        assert any(e[0] == "select" and e[1] == {layer} for e in events[:i])
    # the choice across layers comes last, from validation rows of every layer
    assert [e[1] for e in events if e[0] == "select"][-2:] == [frozenset({"0", "2"})] * 2
    assert all("test" not in r for r in res.grid)
    assert set(res.selected) == {"logistic", "ridge"}


@pytest.mark.parametrize("engine", ENGINES)
def test_shuffled_test_labels_change_no_choice(store3, monkeypatch, engine):
    cfg = _cfg(probes=("logistic", "ridge"), engine=engine, control=False, baselines=False)
    a = sweep(store3, cfg)
    real_labels = Features.labels

    def labels(self, split):
        y = real_labels(self, split)
        return np.random.default_rng(1).permutation(y) if split == "test" else y

    monkeypatch.setattr(Features, "labels", labels)
    b = sweep(store3, cfg)
    assert a.grid == b.grid
    for probe in cfg.probes:
        sa, sb = a.selected[probe], b.selected[probe]
        assert (sa["layer"], sa["value"], sa["val"]) == (sb["layer"], sb["value"], sb["val"])
    assert [(r["layer"], r["value"]) for r in a.per_layer] == [(r["layer"], r["value"]) for r in b.per_layer]
    assert a.selected["logistic"]["test"] != b.selected["logistic"]["test"]


@pytest.mark.parametrize("engine", ENGINES)
def test_reproducible_bit_for_bit(store2, engine):
    a = sweep(store2, _cfg(engine=engine)).to_dict()
    b = sweep(store2, _cfg(engine=engine)).to_dict()
    a.pop("timing"), b.pop("timing")
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_result_contents_and_roundtrip(store3, tmp_path):
    res = sweep(store3, _cfg(probes=("logistic",), combine=("0", "2")))
    assert len(res.grid) == 3 * 3  # layers 0, 2, 0+2 × 3 C values
    sel = res.selected["logistic"]
    assert sel["layer"] in ("0", "2") and sel["param"] == "C"
    assert res.store["split_sizes"] == {"train": 252, "val": 54, "test": 54}
    assert res.store["dataset_fingerprint"] and res.config["seed"] == 0
    acc = sel["test"]["accuracy"]
    assert acc["low"] <= acc["value"] <= acc["high"] and acc["n"] == 54
    best_val = max(r["val"]["accuracy"] for r in res.grid if r["layer"] != "0+2")
    assert sel["val"]["accuracy"] == best_val
    paths = res.save(tmp_path / "out" / "res", ("json", "csv", "parquet"))
    assert [p.suffix for p in paths] == [".json", ".csv", ".parquet"]
    back = SweepResult.load(tmp_path / "out" / "res.json")
    assert back.selected == json.loads(json.dumps(res.selected))
    import pyarrow.parquet as pq

    assert pq.read_table(paths[2]).num_rows == len(res.grid)
    import pandas as pd

    df = pd.read_csv(paths[1])  # one flat table: no dict reprs, test beside val on the chosen rows
    assert len(df) == len(res.grid) and not df.astype(str).apply(lambda c: c.str.contains("{")).any().any()
    assert {"val_accuracy", "train_accuracy", "test_accuracy", "test_accuracy_low", "chosen_for_layer",
            "selected", "n_test", "seed"} <= set(df.columns)
    assert df.chosen_for_layer.sum() == 3 and df.selected.sum() == 1
    top = df[df.selected].iloc[0]
    assert (str(top.layer), top.value, top.test_accuracy) == (sel["layer"], sel["value"], acc["value"])
    assert df[~df.chosen_for_layer].test_accuracy.isna().all()
    d = json.loads(paths[0].read_text())
    d["schema_version"] = 99
    paths[0].write_text(json.dumps(d))
    with pytest.raises(ProbewiseError, match="schema 99.*Re-run the sweep"):
        SweepResult.load(paths[0])


def test_a_binding_grid_edge_is_warned_and_recorded(store3):
    cfg = {"probes": ("logistic",), "control": False, "baselines": False}
    with pytest.warns(RuntimeWarning, match=r"logistic: C=0.0001 .* lowest value of its grid .* --C-grid"):
        res = sweep(store3, _cfg(C_grid=(1e-4, 1e-3, 1e-2, 1.0), **cfg))  # 1e-4 beats 1e-3 on val
    assert res.selected["logistic"]["grid_edge"] == "lowest"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 1e-5 only ties 1e-4 on val: the edge does not bind, nothing to say
        res = sweep(store3, _cfg(C_grid=(1e-5, 1e-4, 1e-3), **cfg))
    assert (res.selected["logistic"]["value"], res.selected["logistic"]["grid_edge"]) == (1e-5, None)


def test_table_shows_the_metric_that_selected(store3):
    res = sweep(store3, _cfg(probes=("logistic",), select="log_loss"))
    head, *rows = res.table().splitlines()[1:]
    assert head.split()[2:5] == ["val", "log_loss", "val"]
    for line, r in zip(rows, res.per_layer, strict=True):
        assert float(line.split()[2]) == pytest.approx(r["val"]["log_loss"], abs=5e-4)
    plain = sweep(store3, _cfg(probes=("logistic",))).table()
    assert "log_loss" not in plain and plain.splitlines()[1].split()[2:4] == ["val", "accuracy"]


def test_refit_uses_train_and_val(store2):
    a = sweep(store2, _cfg(refit=False))
    b = sweep(store2, _cfg(refit=True))
    assert a.selected["logistic"]["layer"] == b.selected["logistic"]["layer"]
    assert b.selected["logistic"]["refit"] is True


@pytest.mark.parametrize("name", ["store2", "store3"])  # 2 and 3 classes
def test_engines_agree_on_the_grid(name, request):
    store = request.getfixturevalue(name)
    t = sweep(store, _cfg(probes=("logistic", "ridge"), engine="torch"))
    s = sweep(store, _cfg(probes=("logistic", "ridge"), engine="sklearn"))
    for rt, rs in zip(t.grid, s.grid, strict=True):
        assert (rt["probe"], rt["layer"], rt["value"]) == (rs["probe"], rs["layer"], rs["value"])
        assert abs(rt["val"]["accuracy"] - rs["val"]["accuracy"]) <= 0.02
        if rt["probe"] == "ridge":  # exact in both engines, and its scores become probabilities the same way
            for metric in ("accuracy", "auroc", "log_loss"):
                assert rt["val"][metric] == pytest.approx(rs["val"][metric], rel=1e-6, abs=1e-9), metric
    assert t.selected["logistic"]["layer"] == s.selected["logistic"]["layer"]


def test_bad_input(store2, tmp_path):
    with pytest.raises(ConfigError, match="must be > 0"):
        sweep(store2, _cfg(C_grid=(0.0, 1.0)))
    with pytest.raises(ProbewiseError, match="layer .5. is not in store"):
        sweep(store2, _cfg(layers=("5",)))
    assert {r["layer"] for r in sweep(store2, _cfg(probes=("ridge",), layers=("-1",))).per_layer} == {"2"}
    with pytest.raises(ConfigError, match="unknown probe"):
        sweep(store2, _cfg(probes=("svm",)))
    with pytest.raises(ConfigError, match="select="):
        sweep(store2, _cfg(select="macro_f1"))
    # a val split holding a single class
    n = 60
    split = ["train"] * 40 + ["val"] * 10 + ["test"] * 10
    s = make_store(tmp_path / "oneclass", n=n, split=split)
    labels = s.labels.copy()
    assert len(np.unique(labels[s.indices("val")])) == 2  # sanity: build a store whose val has one class instead
    split2 = ["train"] * 40 + ["val", "test"] * 10
    s2 = make_store(tmp_path / "oneclass2", n=n, split=split2)
    assert len(np.unique(s2.labels[s2.indices("val")])) == 1
    with pytest.raises(DataError, match="val split has a single class"):
        sweep(s2, _cfg())
    # fewer val examples than classes
    split3 = ["train"] * 58 + ["val", "test"]
    s3 = make_store(tmp_path / "tiny_val", n=n, k=3, split=split3)
    with pytest.raises(DataError, match="val split"):
        sweep(s3, _cfg())


def test_a_class_missing_from_test_leaves_auroc_undefined_not_the_sweep(tmp_path):
    # A user's split whose test rows hold no example of class 2: every probe is still trained, chosen and scored;
    # test AUROC (undefined) is null with the reason, accuracy and the rest are numbers.
    split = ["train"] * 60 + ["val"] * 15 + ["test"] * 15  # (make_store labels row i with class i % 3)
    split = ["train" if s == "test" and i % 3 == 2 else s for i, s in enumerate(split)]
    store = make_store(tmp_path / "s", n=90, k=3, split=split)
    assert 2 not in set(store.labels[store.indices("test")]) and 2 in set(store.labels[store.indices("val")])
    with pytest.warns(RuntimeWarning, match="test auroc: it is undefined on this test split"):
        res = sweep(store, _cfg(probes=("logistic", "ridge"), select="auroc"))
    for entry in [*res.per_layer, *res.selected.values()]:
        auroc = entry["test"]["auroc"]
        assert auroc["value"] is None and auroc["low"] is None and "class 2 vs rest" in auroc["undefined"]
        assert 0.0 <= entry["test"]["accuracy"]["value"] <= 1.0 and entry["test"]["log_loss"]["value"] > 0
    rows = [line for line in res.table("auroc").splitlines() if line.startswith("  ") and "layer" not in line]
    assert len(rows) == 4 and all(line.split()[3] == "n/a" for line in rows)  # layer, C, val auroc, test auroc
    back = SweepResult.load(res.save(tmp_path / "r", ("json",))[0])
    assert back.selected["logistic"]["test"]["auroc"]["value"] is None
    from probewise.report.compare import leaderboard

    assert "n/a" in leaderboard([back], "auroc").to_markdown()


def test_a_point_estimate_without_an_interval_keeps_its_value():
    # One test example of class 2 among 60: some seeds draw no resample holding it (n_boot=1), so AUROC has a
    # value but no interval; accuracy keeps both.
    y = np.array([0, 1] * 29 + [0, 2])
    probs = np.random.default_rng(0).dirichlet(np.ones(3), size=len(y))
    for seed in range(40):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            est = selection_mod.score_on_test(y, probs, n_boot=1, seed=seed)
        if est["auroc"]["low"] is None:
            break
    else:
        pytest.fail("no seed left AUROC without an interval")
    assert est["auroc"]["value"] == pytest.approx(selection_mod.point_metrics(y, probs, ["auroc"])["auroc"])
    assert est["accuracy"]["low"] is not None
    assert any("its interval is undefined" in str(w.message) for w in caught)


def test_nan_features_refused(store2, tmp_path):
    """A store whose features hold NaN (written by hand through the writer API) is refused by name."""
    from probewise.data import Examples

    ex = Examples(np.zeros((40, 2), np.float32), np.arange(40) % 2, ("a", "b"), np.array([0] * 30 + [1] * 5 + [2] * 5,
                  np.int8), "tensor", name="nan")
    X = torch.randn(40, 3)
    X[3, 1] = float("nan")
    ident = {"source": {"kind": "manual"}, "dataset_fingerprint": ex.fingerprint(), "layers": ["0"], "pooling": "none",
             "dtype": "float32", "shard_size": 64}
    with StoreWriter(tmp_path / "nan", ident, ex) as w:
        w.write_shard(0, {"layer.0": X})
        w.finalize()
    with pytest.raises(DataError, match="NaN/inf features in the train split"):
        sweep(open_store(tmp_path / "nan"), _cfg())


def test_controls_baselines_geometry(store3):
    res = sweep(store3, _cfg(probes=("logistic",)))
    for r in res.per_layer:
        # permuted labels carry nothing a probe can generalize: control accuracy near chance (1/3)
        assert 0.1 <= r["control"]["accuracy"] <= 0.6
        assert r["selectivity"] == pytest.approx(r["test"]["accuracy"]["value"] - r["control"]["accuracy"])
    sel = res.selected["logistic"]
    assert sel["selectivity"] > 0.3, "an informative layer must be selective"
    maj = res.baselines["majority"]["test"]["accuracy"]["value"]
    assert maj == pytest.approx(np.bincount(store3.labels[store3.indices("test")]).max() / 54)
    assert f"random_direction@{sel['layer']}" in res.baselines
    assert [g["layer"] for g in res.geometry] == ["0", "2"]
    assert all(g["effective_rank"] > 1 for g in res.geometry)
    assert "selectivity" in res.table()


def test_zoo_probes_through_the_sweep(tmp_path):
    """A tokens store where one token per sequence carries the label: token probes beat mean pooling."""
    import torch.nn as nn

    from probewise import Examples, ModuleSource, extract

    rng = np.random.default_rng(0)
    n, t, d = 400, 24, 8
    x = rng.normal(size=(n, t, d)).astype(np.float32)
    y = np.arange(n) % 2
    pos = rng.integers(0, t, n)
    x[np.arange(n), pos, 0] += np.where(y == 1, 4.0, -4.0)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(d, d))
    with torch.no_grad():
        net[0].weight.copy_(torch.eye(d))
        net[0].bias.zero_()
    ex = Examples.from_lists(x, y, modality="tensor", name="needle", seed=0)
    store = extract(ModuleSource(net, ["0"], pooling="tokens", device="cpu"), ex, tmp_path / "tok", progress=False)
    res = sweep(store, _cfg(probes=("logistic", "multimax", "mlp"), grids={"multimax": (1e-2,), "mlp": (1e-2,)},
                            control=False))
    acc = {p: s["test"]["accuracy"]["value"] for p, s in res.selected.items()}
    assert acc["multimax"] >= 0.9 and acc["logistic"] <= 0.75, acc
    assert {r["probe"] for r in res.grid} == {"logistic", "multimax", "mlp"}
    with pytest.raises(ConfigError, match="need a store extracted with --pooling tokens"):
        sweep(make_store(tmp_path / "pooled"), _cfg(probes=("attention",)))


def test_text_store_keeps_texts_and_gets_a_tfidf_baseline(tmp_path, minilm_path):
    from probewise import Examples, HFSource, extract

    words = {0: ["dreadful", "boring", "awful"], 1: ["lovely", "superb", "charming"]}
    texts = [f"a {words[i % 2][i % 3]} story number {i}" for i in range(60)]
    ex = Examples.from_lists(texts, [i % 2 for i in range(60)], seed=0)
    store = extract(HFSource(minilm_path, layers=[1], device="cpu"), ex, tmp_path / "t", progress=False)
    assert store.texts() == texts and store.texts("test") == [texts[i] for i in store.indices("test")]
    res = sweep(store, _cfg(control=False))
    tfidf = res.baselines["tfidf"]["test"]["accuracy"]["value"]
    assert tfidf == 1.0, "the label words are in the vocabulary: a bag of words solves this toy task"
    assert "C" in res.baselines["tfidf"]["chosen"]
