"""The minibatch trainer: seeded determinism, early stopping with best-weight restore, layered training."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from probewise.errors import ConfigError, DataError
from probewise.fit.trainer import (
    SeededDropout,
    TrainConfig,
    _schedule,
    gather_padded,
    holdout_split,
    per_layer_loss,
    ragged_take,
    train,
)
from probewise.probes.mlp import MLPProbe
from probewise.store.ragged import Ragged


@pytest.fixture(autouse=True)
def _one_thread():
    # Tiny tensors: one thread is several times faster than two on a busy 2-core machine.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _xor(n, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (np.sign(X[:, 0]) * np.sign(X[:, 1]) > 0).astype(np.int64)
    return X, y


class _Layered(nn.Module):
    """A linear model with a leading layer axis: [L, b, d] -> [L, b, 1]."""

    def __init__(self, L, d, generator):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(L, d, 1, generator=generator) * 0.1)
        self.bias = nn.Parameter(torch.zeros(L, 1, 1))

    def forward(self, x):
        return torch.baddbmm(self.bias, x, self.weight)


def test_same_seed_gives_bitwise_identical_weights_and_no_global_rng_use():
    X, y = _xor(400)
    rng_before = torch.get_rng_state()
    kw = dict(hidden_sizes=(16, 8), dropout=0.3, lr=1e-2, epochs=8, seed=3)
    a = MLPProbe(**kw).fit(X, y)
    b = MLPProbe(**kw).fit(X, y)
    c = MLPProbe(**{**kw, "seed": 4}).fit(X, y)
    assert torch.equal(torch.get_rng_state(), rng_before)
    sa, sb, sc = a.module_.state_dict(), b.module_.state_dict(), c.module_.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)
    assert a.report_["best_epoch"] == b.report_["best_epoch"]


def test_early_stopping_restores_the_best_epoch():
    # Few noisy examples and a wide MLP at a high learning rate: validation loss bottoms out, then rises.
    g = torch.Generator().manual_seed(0)
    X = torch.randn(160, 20, generator=g)
    y = ((X[:, 0] + 1.5 * torch.randn(160, generator=g)) > 0).long()
    model = nn.Sequential(nn.Linear(20, 256), nn.ReLU(), nn.Linear(256, 1))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    cfg = TrainConfig(lr=3e-2, weight_decay=0.0, epochs=200, batch_size=32, patience=5, warmup_frac=0.0)
    result = train(model, (X[:80],), y[:80], (X[80:],), y[80:], cfg)
    history = [h[0] for h in result.val_history]
    assert result.epochs_run < 200, "validation loss never stopped improving; the test setup is too easy"
    assert result.epochs_run == result.best_epoch[0] + 5
    assert history[result.best_epoch[0] - 1] == min(history) == result.best_val_loss[0]
    assert history[-1] > result.best_val_loss[0]
    with torch.no_grad():
        restored = per_layer_loss(model(X[80:])[None], y[80:])[0].item()
    assert math.isclose(restored, result.best_val_loss[0], rel_tol=1e-5)
    assert not model.training


def test_layered_training_matches_training_each_layer_alone():
    X, y = _xor(900, seed=0)
    Xt, yt = _xor(1000, seed=1)
    rng = np.random.default_rng(5)
    noise, noise_t = rng.normal(size=X.shape).astype(np.float32), rng.normal(size=Xt.shape).astype(np.float32)
    layers = np.stack([X, noise, 3 * X[:, ::-1] + 1])        # informative, pure noise, rescaled + permuted
    layers_t = np.stack([Xt, noise_t, 3 * Xt[:, ::-1] + 1])
    kw = dict(hidden_sizes=(32,), dropout=0.0, lr=1e-2, epochs=40, patience=8, seed=0)
    joint = MLPProbe(**kw).fit_layers(layers, y)
    alone = [MLPProbe(**kw).fit(layers[i], y) for i in range(3)]
    acc_joint = [p.score(layers_t[i], yt) for i, p in enumerate(joint)]
    acc_alone = [p.score(layers_t[i], yt) for i, p in enumerate(alone)]
    assert acc_joint[0] >= 0.9 and acc_joint[2] >= 0.9 and acc_joint[1] <= 0.6
    assert np.allclose(acc_joint, acc_alone, atol=0.03), (acc_joint, acc_alone)
    # Each layer keeps its own best epoch: the noise layer's is early, the informative ones' late.
    assert joint[1].report_["best_epoch"] < joint[0].report_["best_epoch"]
    assert {p.report_["layers_trained_together"] for p in joint} == {3}
    assert joint[0].report_["parameters"] == alone[0].report_["parameters"] == 6 * 32 + 32 + 32 + 1


def test_layered_early_stopping_keeps_each_layers_best_weights():
    g = torch.Generator().manual_seed(1)
    X = torch.randn(2, 200, 5, generator=g)
    y = (X[0, :, 0] > 0).long()                              # layer 0 informative, layer 1 noise
    model = _Layered(2, 5, g)
    cfg = TrainConfig(lr=5e-2, epochs=30, batch_size=50, patience=4)
    result = train(model, (X[:, :150],), y[:150], (X[:, 150:],), y[150:], cfg, layered=True)
    with torch.no_grad():
        losses = per_layer_loss(model(X[:, 150:]), y[150:])
    assert torch.allclose(losses.double(), torch.tensor(result.best_val_loss, dtype=torch.float64), rtol=1e-5)
    assert result.best_val_loss[0] < 0.4 < result.best_val_loss[1]


def test_layered_needs_a_leading_layer_axis_on_every_parameter():
    model = nn.Linear(3, 1)
    X = torch.zeros(2, 10, 3)
    with pytest.raises(ConfigError, match="layer axis"):
        train(model, (X,), torch.zeros(10, dtype=torch.long), (X,), torch.zeros(10, dtype=torch.long),
              TrainConfig(epochs=1), layered=True)


def test_warmup_then_cosine_schedule():
    f = _schedule(100, 0.1)
    assert [round(f(s), 3) for s in (0, 4, 9)] == [0.1, 0.5, 1.0]
    assert f(10) == 1.0 and 0.49 < f(55) < 0.51 and f(99) < 0.01


def test_holdout_split_is_seeded_stratified_and_disjoint():
    codes = torch.tensor([0] * 50 + [1] * 30 + [2] * 3)
    tr, va = holdout_split(codes, 0.1, seed=0)
    tr2, va2 = holdout_split(codes, 0.1, seed=0)
    assert torch.equal(va, va2) and torch.equal(tr, tr2)
    assert not set(tr.tolist()) & set(va.tolist()) and len(tr) + len(va) == len(codes)
    assert [int((codes[va] == c).sum()) for c in range(3)] == [5, 3, 1]
    assert not torch.equal(holdout_split(codes, 0.1, seed=1)[1], va)
    with pytest.raises(DataError):
        holdout_split(torch.tensor([0, 1]), 0.1, seed=0)


def test_gather_padded_and_ragged_take_match_ragged():
    g = torch.Generator().manual_seed(0)
    r = Ragged.from_list([torch.randn(n, 3, generator=g) for n in (4, 1, 6, 2)])
    x, mask = gather_padded(r, torch.tensor([2, 0, 3]), torch.device("cpu"))
    ref_x, ref_mask = r.select([2, 0, 3]).padded()
    assert torch.equal(x, ref_x) and torch.equal(mask, ref_mask)
    taken = ragged_take(r, torch.tensor([3, 1]))
    ref = r.select([3, 1])
    assert torch.equal(taken.values, ref.values) and torch.equal(taken.offsets, ref.offsets)


def test_seeded_dropout_needs_its_generator_and_is_identity_in_eval():
    drop = SeededDropout(0.5)
    with pytest.raises(ConfigError):
        drop(torch.ones(3))
    drop.eval()
    assert torch.equal(drop(torch.ones(3)), torch.ones(3))


@pytest.mark.parametrize("bad", [dict(lr=0), dict(epochs=0), dict(batch_size=0), dict(patience=0),
                                 dict(warmup_frac=1.0), dict(weight_decay=-1)])
def test_config_rejects_bad_values(bad):
    with pytest.raises(ConfigError):
        TrainConfig(**bad)
