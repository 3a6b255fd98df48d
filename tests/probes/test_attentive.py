"""Attentive probes: find one informative token among 64 where mean pooling fails; padding never matters."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from probewise.errors import ConfigError, DataError
from probewise.probes._torch_base import load_probe
from probewise.probes.attentive import AttentivePoolerProbe, EfficientModule, EfficientProbe, PoolerModule
from probewise.store.ragged import Ragged


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def needle(n, t=64, d=16, mu=8.0, seed=0):
    """t noise tokens; one, at a random position, carries +-mu along direction e_y (random sign).

    The sign makes the mean of the tokens symmetric in both classes, so a mean-pooled linear probe is at chance.
    """
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, t, d, generator=g)
    y = torch.randint(0, 2, (n,), generator=g)
    pos = torch.randint(0, t, (n,), generator=g)
    sign = (torch.randint(0, 2, (n,), generator=g) * 2 - 1).float()
    x[torch.arange(n), pos, y] += mu * sign
    return x, y


@pytest.fixture(scope="module")
def fitted():
    torch.set_num_threads(1)
    x, y = needle(600)
    ep = EfficientProbe(n_queries=4, lr=2e-2, epochs=20, batch_size=64).fit(x, y)
    ap = AttentivePoolerProbe(n_heads=4, lr=2e-2, epochs=20, batch_size=64).fit(x, y)
    return ep, ap


def test_attentive_probes_find_the_needle_where_mean_pooling_fails(fitted):
    x, y = needle(600)
    xt, yt = needle(500, seed=1)
    ep, ap = fitted
    assert ep.score(xt, yt) >= 0.9
    assert ap.score(xt, yt) >= 0.9
    assert LogisticRegression().fit(x.mean(1), y).score(xt.mean(1), yt) <= 0.7


def test_efficient_probing_has_far_fewer_parameters(fitted):
    ep, ap = fitted
    assert clone(ep).get_params() == ep.get_params() and clone(ap).n_heads == 4
    d, m = 16, 4
    assert ep.report_["parameters"] == m * d + d * d + d + 1
    assert ap.report_["parameters"] == d + 4 * (d * d + d) + 2 * 2 * d + (d * 4 * d + 4 * d) + (4 * d * d + d) + d + 1
    assert ep.report_["parameters"] * 9 < ap.report_["parameters"]
    # At ViT-B width (d = 768, 1000 classes) with the paper's 32 queries, as reported.
    g = torch.Generator().manual_seed(0)
    n_ep = sum(p.numel() for p in EfficientModule(768, 32, 768, 1000, g).parameters())
    n_ap = sum(p.numel() for p in PoolerModule(768, 12, 4.0, 1000, g).parameters())
    assert n_ep == 32 * 768 + 768 * 768 + 768 * 1000 + 1000            # 1.38 M
    assert n_ap > 5 * n_ep                                               # 7.9 M


def test_input_forms_agree_and_padding_never_matters(fitted):
    xt, _ = needle(6, seed=2)
    lengths = [64, 10, 37, 1, 64, 50]
    seqs = [xt[i, :n] for i, n in enumerate(lengths)]
    ragged = Ragged.from_list(seqs)
    for probe in fitted:
        ref = probe.decision_function(ragged)
        assert np.allclose(probe.decision_function(seqs), ref, atol=1e-6)
        for t_pad, fill in ((64, 0.0), (80, 1e3)):           # padded further, with garbage in the padding
            x = torch.full((6, t_pad, 16), fill)
            mask = torch.zeros(6, t_pad, dtype=torch.bool)
            for i, s in enumerate(seqs):
                x[i, : len(s)], mask[i, : len(s)] = s, True
            assert np.allclose(probe.decision_function((x, mask)), ref, atol=1e-5)
        single = np.concatenate([probe.decision_function([s]) for s in seqs])
        assert np.allclose(single, ref, atol=1e-5)
    maps = fitted[0].attention(ragged)
    assert [m.shape for m in maps] == [(4, n) for n in lengths]
    assert np.allclose([m.sum(1) for m in maps], 1, atol=1e-5)


def test_save_load_roundtrip(fitted, tmp_path):
    xt, _ = needle(40, seed=3)
    for i, probe in enumerate(fitted):
        probe.save(tmp_path / f"p{i}")
        loaded = load_probe(tmp_path / f"p{i}")
        assert type(loaded) is type(probe)
        assert np.array_equal(loaded.decision_function(xt), probe.decision_function(xt))
        assert np.array_equal(loaded.predict_proba(xt), probe.predict_proba(xt))


def test_errors_name_the_problem():
    x, y = needle(40, t=8, d=6)
    with pytest.raises(ConfigError, match="n_heads"):
        AttentivePoolerProbe(n_heads=4).fit(x, y)
    with pytest.raises(ConfigError, match="value_dim"):
        EfficientProbe(n_queries=4, value_dim=6).fit(x, y)
    with pytest.raises(DataError, match="at least one token"):
        EfficientProbe().fit((x, torch.zeros(40, 8, dtype=torch.bool)), y)
    with pytest.raises(DataError, match="pooled"):
        from probewise.probes.mlp import MLPProbe

        MLPProbe().fit(Ragged.from_list([x[0]]), [0])
