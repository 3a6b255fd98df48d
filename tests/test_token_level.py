"""Word-labelled text → per-token labels aligned at extraction → a token-level sweep, on the real MiniLM."""

import numpy as np
import pytest
import torch

from probewise import HFSource, extract
from probewise.data.token_tasks import make_token_task
from probewise.errors import ConfigError
from probewise.extract import token_task_examples
from probewise.sweeps import SweepConfig, sweep


@pytest.fixture(scope="module")
def pos_store(tmp_path_factory, minilm_path):
    ex = token_task_examples(make_token_task("pos_tags", n=240, seed=0))
    src = HFSource(minilm_path, layers=[0, 3], pooling="tokens", device="cpu")
    return extract(src, ex, tmp_path_factory.mktemp("pos") / "s", progress=False), ex, src


def test_token_labels_align_with_words(pos_store):
    store, ex, src = pos_store
    labels, ids = store.read_token_labels(), store.read_token_ids()
    assert torch.equal(labels.lengths, ids.lengths) and len(labels) == ex.n
    tok = src.processor
    for i in (0, 7, 100):
        words = ex.inputs[i].split()
        enc = tok(words, is_split_into_words=True)
        firsts = [j for j, w in enumerate(enc.word_ids()) if w is not None and w not in enc.word_ids()[:j]]
        lab = labels[i].tolist()
        assert [lab[j] for j in firsts] == ex.word_labels[i], "each word's first sub-token carries its label"
        assert all(lab[j] == -100 for j in range(len(lab)) if j not in firsts)
    assert store.token_classes == list(make_token_task("pos_tags", n=240, seed=0).classes)


def test_token_level_sweep(pos_store):
    store, _, _ = pos_store
    res = sweep(store, SweepConfig(probes=("logistic",), level="token", C_grid=(0.01, 1.0), n_boot=50))
    sel = res.selected["logistic"]
    k = len(store.token_classes)
    assert res.store["level"] == "token" and res.store["split_sizes"]["train"] > 1000  # tokens, not sentences
    assert sel["test"]["accuracy"]["value"] > 0.8, "POS is linearly decodable from MiniLM tokens"
    assert sel["test"]["accuracy"]["value"] > 2.0 / k
    # the control task assigns a random label per word type: memorizable, so selectivity < accuracy
    assert 0 < sel["selectivity"] < sel["test"]["accuracy"]["value"]
    with pytest.raises(ConfigError, match="not sequence probes"):
        sweep(store, SweepConfig(probes=("multimax",), level="token"))


def test_token_level_needs_token_labels(tmp_path, minilm_path, text_examples):
    store = extract(HFSource(minilm_path, layers=[1], pooling="tokens", device="cpu"), text_examples, tmp_path / "t",
                    progress=False)
    with pytest.raises(ConfigError, match="needs per-token labels"):
        sweep(store, SweepConfig(level="token"))
    assert np.all(store.labels >= 0)
