"""Probe artifacts: save/load round trip, store provenance, refusal on another model or layer (real tiny models)."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
import torch

from probewise.artifact import ProbeArtifact, model_fingerprint
from probewise.errors import ConfigError, ProbeError
from probewise.probes import LogisticProbe, RidgeProbe
from probewise.probes.longcontext import MultiMaxProbe
from tests.conftest import run_doctests


def _causal(path):
    import transformers

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return transformers.AutoModelForCausalLM.from_pretrained(path).eval()


@pytest.fixture(scope="module")
def gpt2(tiny_gpt2):
    return _causal(tiny_gpt2)


def _linear(d=32, seed=0):
    X = np.random.default_rng(seed).normal(size=(120, d))
    return LogisticProbe().fit(X, (X[:, 0] > 0).astype(int)), X


def test_roundtrip_linear(tmp_path, gpt2):
    probe, X = _linear()
    art = ProbeArtifact(probe, "tiny-gpt2", model_fingerprint(gpt2), layer=2, pooling="mean", threshold=0.25,
                        target_fpr=0.01, temperature=1.7, data_fingerprint="abc", metrics={"auroc": 0.9},
                        band=(-0.5, math.inf))
    weights, meta = art.save(tmp_path / "probe")
    assert weights.name == "probe.safetensors" and meta.name == "probe.json"
    assert not list(tmp_path.glob("*.pkl"))
    stored = json.loads(meta.read_text())["metadata"]["probewise_artifact"]
    for key in ("model", "layer", "hook_point", "pooling", "aggregation", "threshold", "target_fpr", "temperature",
                "data_fingerprint", "metrics", "probewise_version"):
        assert key in stored
    assert stored["model"]["fingerprint"] == model_fingerprint(gpt2)
    again = ProbeArtifact.load(tmp_path / "probe.json")
    assert (again.layer, again.pooling, again.threshold, again.target_fpr) == (2, "mean", 0.25, 0.01)
    assert (again.temperature, again.data_fingerprint, again.metrics) == (1.7, "abc", {"auroc": 0.9})
    assert again.band == (-0.5, None) and again.aggregation == "running mean"
    np.testing.assert_array_equal(again.probe.decision_function(X), probe.decision_function(X))
    np.testing.assert_allclose(again.probability([0.0, 1.7]), [0.5, 1 / (1 + math.exp(-1))])
    cas = again.cascade(lambda idx: np.ones(len(idx)))
    assert cas.tau_low == -0.5 and cas.tau_high == math.inf


def test_roundtrip_multimax(tmp_path, gpt2):
    x = torch.randn(40, 6, 32, generator=torch.Generator().manual_seed(0))
    probe = MultiMaxProbe(n_heads=2, epochs=2).fit(x, torch.arange(40) % 2)
    art = ProbeArtifact(probe, "tiny-gpt2", model_fingerprint(gpt2), layer=4, pooling="tokens", threshold=0.1)
    art.save(tmp_path / "mm")
    again = ProbeArtifact.load(tmp_path / "mm")
    assert again.aggregation == "multimax" and again.layer == 4
    np.testing.assert_array_equal(again.prefix_scores(x[0]), art.prefix_scores(x[0]))
    assert again.check_model(gpt2) == 4  # the top layer (L = 4 blocks) is valid


def test_plain_probe_is_not_an_artifact(tmp_path):
    probe, _ = _linear()
    probe.save(tmp_path / "plain")
    with pytest.raises(ProbeError, match="without deployment metadata"):
        ProbeArtifact.load(tmp_path / "plain")


def test_bad_metadata():
    probe, _ = _linear()
    with pytest.raises(ConfigError, match="pooling"):
        ProbeArtifact(probe, "m", None, layer=1, pooling="median")
    with pytest.raises(ConfigError, match="target_fpr"):
        ProbeArtifact(probe, "m", None, layer=1, pooling="mean", target_fpr=2.0)
    with pytest.raises(ConfigError, match="tau_low <= tau_high"):
        ProbeArtifact(probe, "m", None, layer=1, pooling="mean", band=(1.0, 0.0))
    with pytest.raises(ProbeError, match="not fitted"):
        ProbeArtifact(LogisticProbe(), "m", None, layer=1, pooling="mean")


def test_wrong_model_and_layer_refused(gpt2, tiny_llama):
    llama = _causal(tiny_llama)
    art = ProbeArtifact(_linear()[0], "tiny-gpt2", model_fingerprint(gpt2), layer=2, pooling="mean")
    assert art.check_model(gpt2) == 2
    with pytest.raises(ProbeError, match="fingerprint"):
        art.check_model(llama)  # same hidden size (32), other weights
    with pytest.raises(ProbeError, match="trained on layer 2 .* not layer 3"):
        art.check_model(gpt2, layer=3)
    with pytest.warns(UserWarning, match="fingerprint"):
        assert art.check_model(llama, allow_mismatch=True) == 2
    with pytest.raises(ConfigError, match="not in this model"):
        art.check_model(gpt2, layer=9)
    wide = ProbeArtifact(_linear(d=16)[0], "x", None, layer=1, pooling="mean")
    with pytest.raises(ProbeError, match="hidden size"):
        wide.check_model(gpt2, allow_mismatch=True)  # cannot run at all, even when mismatches are allowed


def test_from_store_matches_the_generating_model(tiny_gpt2, gpt2, tmp_path):
    from probewise.extract import ExtractConfig, run_extract

    store = run_extract(ExtractConfig(out=str(tmp_path / "store"), model=tiny_gpt2, task="negation", task_size=60,
                                      layers="2", pooling="last", progress=False))
    X, y = store.read(2, "train").numpy(), store.labels[store.indices("train")]
    art = ProbeArtifact.from_store(store, RidgeProbe().fit(X, y), 2, threshold=0.0, target_fpr=0.05)
    assert art.pooling == "last" and art.layer == 2 and art.num_hidden_states == 5
    assert art.data_fingerprint == store.manifest["identity"]["dataset_fingerprint"]
    # the store was extracted with AutoModel; the causal LM of the same weights has the same fingerprint
    assert art.model_fingerprint == model_fingerprint(gpt2)
    assert art.check_model(gpt2) == 2
    art.save(tmp_path / "probe")
    assert ProbeArtifact.load(tmp_path / "probe").model_fingerprint == art.model_fingerprint


@pytest.mark.parametrize("module", ["probewise.artifact", "probewise.steer", "probewise.monitor.runtime",
                                    "probewise.monitor.view"])
def test_docstring_examples_run(module):
    result = run_doctests(module, ignore_warnings=True)
    assert result.failed == 0 and result.attempted > 0
