"""MomentProbe: separates classes that differ only in token covariance, where first-order heads are at chance."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from probewise.errors import ConfigError
from probewise.probes._torch_base import load_probe
from probewise.probes.moment import MomentProbe
from probewise.store.ragged import Ragged


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def covariance_task(n, t=32, d=8, rho=0.6, seed=0):
    """Zero-mean Gaussian tokens; channels 2 and 5 correlate with coefficient +rho (class 1) or -rho (class 0)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, t, d, generator=g)
    r = ((2 * y - 1).float() * rho)[:, None]
    x[:, :, 5] = r * x[:, :, 2] + (1 - rho**2) ** 0.5 * x[:, :, 5]
    return x, y


@pytest.fixture(scope="module")
def fitted():
    torch.set_num_threads(1)
    x, y = covariance_task(600)
    second = MomentProbe(proj_dim=16, groups=4, lr=1e-2, epochs=20).fit(x, y)
    first = MomentProbe(second_order=False, lr=1e-2, epochs=20).fit(x, y)
    return second, first


def test_second_order_moments_beat_first_order_heads(fitted):
    x, y = covariance_task(600)
    xt, yt = covariance_task(500, seed=1)
    second, first = fitted
    assert second.score(xt, yt) >= 0.9
    assert first.score(xt, yt) <= 0.65
    assert LogisticRegression().fit(x.mean(1), y).score(xt.mean(1), yt) <= 0.65


def test_parameter_counts(fitted):
    second, first = fitted
    d, r, g = 8, 16, 4
    assert first.report_["parameters"] == d + 1
    assert second.report_["parameters"] == d * r + g * (r // g) ** 2 + 1 + d + 1
    big = MomentProbe(proj_dim=64, groups=4)._build_module(768, 1000, torch.Generator().manual_seed(0))
    n_big = sum(p.numel() for p in big.parameters())
    assert n_big == 768 * 64 + 1024 * 1000 + 1000 + 768 * 1000 + 1000      # 1.84 M: no d^2 covariance


def test_padding_and_cls_option(fitted):
    xt, _ = covariance_task(4, seed=2)
    seqs = [xt[0, :32], xt[1, :5], xt[2, :1], xt[3, :20]]
    second = fitted[0]
    ref = second.decision_function(Ragged.from_list(seqs))
    x = torch.full((4, 40, 8), 7.0)
    mask = torch.zeros(4, 40, dtype=torch.bool)
    for i, s in enumerate(seqs):
        x[i, : len(s)], mask[i, : len(s)] = s, True
    assert np.allclose(second.decision_function((x, mask)), ref, atol=1e-5)
    cls = MomentProbe(first_order="cls", second_order=False, epochs=1).fit(x, np.arange(4) % 2)
    x2 = x.clone()
    x2[:, 1:] += 1.0                                   # only the first (CLS) token feeds the first-order head
    assert np.array_equal(cls.decision_function(x2), cls.decision_function(x))


def test_save_load_roundtrip(fitted, tmp_path):
    xt, _ = covariance_task(30, seed=3)
    for i, probe in enumerate(fitted):
        probe.save(tmp_path / f"m{i}")
        loaded = load_probe(tmp_path / f"m{i}")
        assert np.array_equal(loaded.decision_function(xt), probe.decision_function(xt))


def test_bad_configuration():
    x, y = covariance_task(20)
    with pytest.raises(ConfigError, match="multiple of groups"):
        MomentProbe(proj_dim=10, groups=4).fit(x, y)
    with pytest.raises(ConfigError, match="first_order"):
        MomentProbe(first_order="max").fit(x, y)
