"""Long-context probes: streaming equals batch token by token; max/attention probes find a needle; padding-proof."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from probewise.errors import DataError
from probewise.probes._torch_base import load_probe
from probewise.probes.longcontext import (
    AttentionProbe,
    EMAMaxProbe,
    MeanLinearProbe,
    MultiMaxProbe,
    RollingAttentionProbe,
    ema_scan,
)
from probewise.store.ragged import Ragged


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


KINDS = {
    "mean": lambda **kw: MeanLinearProbe(**kw),
    "ema_max": lambda **kw: EMAMaxProbe(alpha=0.8, **kw),
    "attention": lambda **kw: AttentionProbe(n_heads=3, **kw),
    "multimax": lambda **kw: MultiMaxProbe(n_heads=3, **kw),
    "rolling": lambda **kw: RollingAttentionProbe(n_heads=3, window=5, **kw),
}


def needle(n, t=64, d=16, mu=8.0, seed=0):
    """t noise tokens; one, at a random position, carries +-mu along direction e_y (random sign)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, t, d, generator=g)
    y = torch.randint(0, 2, (n,), generator=g)
    pos = torch.randint(0, t, (n,), generator=g)
    sign = (torch.randint(0, 2, (n,), generator=g) * 2 - 1).float()
    x[torch.arange(n), pos, y] += mu * sign
    return x, y


def _random_probe(kind, n_classes, seed=0):
    """A fitted probe whose weights are then scrambled to large values (stresses the softmax/max updates)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(30, 12, 6, generator=g)
    probe = KINDS[kind](epochs=1).fit(x, np.arange(30) % n_classes)
    with torch.no_grad():
        for p in probe.module_.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 3)
    return probe


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_streaming_equals_batch_token_by_token(kind, n_classes):
    probe = _random_probe(kind, n_classes)
    seq = torch.randn(40, 6, generator=torch.Generator().manual_seed(1)) * 2
    state = probe.stream()
    assert state.score is None
    as64 = lambda a: torch.tensor(np.asarray(a, dtype=np.float64))  # noqa: E731
    streamed = as64([state.update(tok) for tok in seq])
    batch = as64([probe.decision_function(seq[None, : t + 1])[0] for t in range(len(seq))])
    running = as64(probe.token_scores([seq])[0])
    assert streamed.shape == batch.shape == running.shape == ((40,) if n_classes == 2 else (40, n_classes))
    assert torch.allclose(streamed, batch, rtol=1e-5, atol=1e-5), (streamed - batch).abs().max()
    assert torch.allclose(running, batch, rtol=1e-5, atol=1e-5), (running - batch).abs().max()
    assert state.n_tokens == 40
    # Feeding a block of tokens at once is the same as one by one; reset starts a new sequence.
    state.reset()
    assert np.allclose(state.update(seq[:7].numpy()), streamed[6].numpy(), rtol=1e-5, atol=1e-5)


def test_attention_streaming_survives_extreme_scores():
    probe = _random_probe("attention", 2)
    with torch.no_grad():
        probe.module_.query.mul_(40)                      # scores in the hundreds: naive exp would overflow
    seq = torch.randn(200, 6, generator=torch.Generator().manual_seed(2))
    state = probe.stream()
    streamed = np.array([state.update(tok) for tok in seq])
    running = probe.token_scores([seq])[0]
    assert np.isfinite(streamed).all()
    assert np.allclose(streamed, running, rtol=1e-4, atol=1e-4)
    assert np.isclose(streamed[-1], probe.decision_function(seq[None])[0], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_padding_never_changes_scores_and_save_load_roundtrip(kind, tmp_path):
    probe = _random_probe(kind, 2, seed=4)
    g = torch.Generator().manual_seed(5)
    seqs = [torch.randn(n, 6, generator=g) for n in (9, 1, 17, 4)]
    ref = probe.decision_function(Ragged.from_list(seqs))
    for t_pad in (17, 30):
        x = torch.full((4, t_pad, 6), -50.0)                    # garbage in the padding
        mask = torch.zeros(4, t_pad, dtype=torch.bool)
        for i, s in enumerate(seqs):
            x[i, : len(s)], mask[i, : len(s)] = s, True
        assert np.allclose(probe.decision_function((x, mask)), ref, rtol=1e-5, atol=1e-5)
    assert np.allclose([probe.decision_function([s])[0] for s in seqs], ref, rtol=1e-5, atol=1e-5)
    assert [len(r) for r in probe.token_scores(seqs)] == [9, 1, 17, 4]
    probe.save(tmp_path / kind)
    loaded = load_probe(tmp_path / kind)
    assert np.array_equal(loaded.decision_function(seqs), probe.decision_function(seqs))
    assert loaded.stream().update(seqs[0]) == probe.stream().update(seqs[0])


def test_max_and_attention_probes_find_the_needle_where_mean_pooling_fails():
    x, y = needle(600)
    xt, yt = needle(500, seed=1)
    kw = dict(lr=2e-2, epochs=20, batch_size=64)
    scores = {name: P(**kw).fit(x, y).score(xt, yt) for name, P in [
        ("mean", MeanLinearProbe), ("attention", AttentionProbe), ("multimax", MultiMaxProbe),
        ("rolling", lambda **k: RollingAttentionProbe(window=8, **k))]}
    assert scores["mean"] <= 0.7, scores
    assert min(scores["attention"], scores["multimax"], scores["rolling"]) >= 0.9, scores


def test_ema_scan_matches_the_recurrence():
    g = torch.Generator().manual_seed(0)
    s = torch.randn(3, 23, 2, generator=g, dtype=torch.float64)
    for alpha in (0.0, 0.5, 0.97):
        e, ref = torch.zeros(3, 2, dtype=torch.float64), []
        for t in range(23):
            e = alpha * e + (1 - alpha) * s[:, t]
            ref.append(e / (1 - alpha ** (t + 1)))
        assert torch.allclose(ema_scan(s, alpha, chunk=4), torch.stack(ref, 1))
        assert torch.allclose(ema_scan(s, alpha), torch.stack(ref, 1))


def test_stream_rejects_wrong_tokens():
    state = _random_probe("multimax", 2).stream()
    with pytest.raises(DataError, match=r"\[6\]"):
        state.update(torch.zeros(5))
    with pytest.raises(DataError, match="NaN"):
        state.update(torch.full((6,), float("nan")))


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_batched_stream_of_raw_tokens_equals_running_scores(kind, n_classes):
    """The scorer's batched streaming (what the monitor calls: raw tokens, several sequences, some rows skipping
    steps) equals each sequence's running scores; the monitor's float path equals the tensor path."""
    probe = _random_probe(kind, n_classes)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, 12, 6, generator=g) * 2
    mask = torch.rand(3, 12, generator=g) > 0.3
    mask[:, 0] = True
    mask[1, 5:] = False  # a row that ends early
    mod = probe.module_
    state = mod.init_batch(3)
    steps = []
    for j in range(6):  # the first half one step at a time, the rest as one chunk
        rows = np.flatnonzero(mask[:, j].numpy()).tolist()
        s = mod.step_batch(state, x[:, j], rows)
        assert s.shape == (3, mod.n_out) and bool(s[~mask[:, j]].isnan().all())
        steps.append(s)
    got = torch.cat([torch.stack(steps, 1), mod.feed_batch(state, x[:, 6:], mask[:, 6:])], 1)
    assert got.shape == (3, 12, mod.n_out) and bool(got[~mask].isnan().all())
    for r in range(3):
        expect = probe.token_scores([x[r][mask[r]]])[0].reshape(-1, mod.n_out)
        np.testing.assert_allclose(got[r][mask[r]].numpy(), expect, rtol=1e-5, atol=1e-5)
    if n_classes == 2:
        a, b = mod.init_batch(3), mod.init_batch(3)
        for j in range(12):
            rows = np.flatnonzero(mask[:, j].numpy()).tolist()
            tensor_path = mod.step_batch(a, x[:, j], rows)[:, 0]
            float_path = mod.step_binary(b, x[:, j], rows)
            np.testing.assert_allclose([float_path[r] for r in rows], tensor_path[rows].numpy(), rtol=1e-6,
                                       atol=1e-6)


def test_multimax_fold_keeps_the_standardization():
    probe = _random_probe("multimax", 2)
    mod = probe.module_
    with torch.no_grad():
        mod.set_standardization(torch.linspace(-3, 5, 6), torch.linspace(0.5, 4, 6))
    w, c = mod.fold()
    x = torch.randn(7, 6, generator=torch.Generator().manual_seed(3)) * 4 + 2
    with torch.no_grad():
        heads = mod._scores(mod.standardize(x)).reshape(7, -1)
    assert w.dtype == c.dtype == torch.float32 and w.shape == (6, heads.shape[1])
    torch.testing.assert_close(x @ w + c, heads, rtol=1e-5, atol=1e-5)
