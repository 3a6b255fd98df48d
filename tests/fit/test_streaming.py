import numpy as np
import torch

from probewise.fit import fit_ridge_classifier
from probewise.fit.streaming import RidgeAccumulator, fit_ridge_classifier_streaming

from ..sweeps.conftest import make_store


def test_streamed_ridge_equals_in_memory_on_a_sharded_store(tmp_path):
    store = make_store(tmp_path / "s", n=600, k=3, d=12)  # shards of 128 rows
    assert len(store.manifest["shards"]) == 5
    alphas = [0.01, 1.0, 100.0]
    coef, intercept = fit_ridge_classifier_streaming(store, "0", alphas)
    X = store.read("0", "train").double()
    y = store.labels[store.indices("train")]
    ref = fit_ridge_classifier(X, y, alphas)
    assert torch.allclose(coef, ref.coef[0].to(coef.dtype), atol=1e-8)
    assert torch.allclose(intercept, ref.intercept[0].to(intercept.dtype), atol=1e-8)


def test_matches_sklearn_ridge_with_scaler_on_rank_deficient_features():
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 10))
    X -= X.mean(1, keepdims=True)  # rows sum to zero, like LayerNorm output: the Gram matrix is singular
    Y = X[:, :2] @ rng.normal(size=(2, 2)) + 0.1 * rng.normal(size=(300, 2))
    acc = RidgeAccumulator()
    for part in np.array_split(np.arange(300), 7):
        acc.update(torch.as_tensor(X[part]), torch.as_tensor(Y[part]))
    coef, intercept = acc.solve([0.5])
    pipe = make_pipeline(StandardScaler(), Ridge(alpha=0.5)).fit(X, Y)
    pred = (torch.as_tensor(X) @ coef[0] + intercept[0]).numpy()
    np.testing.assert_allclose(pred, pipe.predict(X), atol=1e-8)


# -- streamed logistic / meandiff / scatter -------------------------------------------------------------------

import pytest  # noqa: E402

from probewise.errors import DataError  # noqa: E402
from probewise.fit import fit_logistic, fit_meandiff  # noqa: E402
from probewise.fit.streaming import (  # noqa: E402
    ScatterAccumulator,
    ShardStream,
    fit_logistic_streaming,
    fit_meandiff_streaming,
)


@pytest.fixture(scope="module", params=[2, 3], ids=["binary", "3class"])
def sharded(request, tmp_path_factory):
    k = request.param
    store = make_store(tmp_path_factory.mktemp(f"s{k}") / "s", n=600, k=k, d=12)
    assert len(store.manifest["shards"]) == 5
    return store


@pytest.mark.parametrize("layer", ["0", "2"])
def test_streamed_logistic_reaches_the_fit_logistic_optimum(sharded, layer):
    Cs = [0.01, 1.0, 1e3]
    fit = fit_logistic_streaming(ShardStream(sharded, layer), Cs, tol=1e-8, max_iter=2000)
    X = sharded.read(layer, "train").double()
    y = sharded.labels[sharded.indices("train")]
    ref = fit_logistic(X, y, Cs, tol=1e-8, max_iter=2000, dtype="float64")
    assert bool(fit.converged.all()) and bool(ref.converged.all())
    assert fit.n_passes > int(fit.n_iter.max())
    assert fit.coef.shape == ref.coef.shape and fit.Cs.tolist() == Cs
    torch.testing.assert_close(fit.objective, ref.objective, rtol=1e-7, atol=0)
    scale = ref.coef.abs().amax(dim=(2, 3), keepdim=True)
    assert bool(((fit.coef - ref.coef).abs() <= 1e-3 * scale).all())
    torch.testing.assert_close(fit.mean, ref.mean, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(fit.scale, ref.scale, rtol=1e-10, atol=1e-10)
    Xv = sharded.read(layer, "val").double()
    z = Xv @ fit.coef[0] + fit.intercept[0][:, None, :]  # the LogisticPath methods are the plain linear map
    pred = (z[..., 0] > 0).long() if z.shape[-1] == 1 else z.argmax(-1)
    assert torch.equal(fit.predict(Xv), pred[None])
    assert torch.equal(fit.predict(Xv), ref.predict(Xv))


def test_streamed_logistic_at_default_tolerance_agrees_on_validation(sharded):
    Cs = [0.01, 1.0, 1e3]
    fit = fit_logistic_streaming(ShardStream(sharded, "0"), Cs)
    assert bool(fit.converged.all()) and fit.n_passes < 60
    ref = fit_logistic(sharded.read("0", "train"), sharded.labels[sharded.indices("train")], Cs)
    Xv = sharded.read("0", "val").double()
    agree = (fit.predict(Xv)[0] == ref.predict(Xv.float())[0]).double().mean(1)
    assert bool((agree >= 0.98).all()), agree


def test_streamed_logistic_is_bit_for_bit_reproducible(sharded):
    a = fit_logistic_streaming(ShardStream(sharded, "0"), [0.1, 100.0])
    b = fit_logistic_streaming(ShardStream(sharded, "0"), [0.1, 100.0])
    assert torch.equal(a.coef, b.coef) and torch.equal(a.intercept, b.intercept) and a.n_passes == b.n_passes


@pytest.mark.parametrize("layer", ["0", "2"])
def test_streamed_meandiff_equals_fit_meandiff_with_logistic_threshold(sharded, layer):
    values = [0.0, 0.3, 1.0]
    coef, intercept = fit_meandiff_streaming(ShardStream(sharded, layer), values)
    X = sharded.read(layer, "train").double()
    y = sharded.labels[sharded.indices("train")]
    for g, v in enumerate(values):
        ref = fit_meandiff(X, y, whiten=v < 1.0, shrinkage=v if v < 1.0 else None, threshold="logistic")
        tol = 1e-4 * float(ref.coef.abs().max())
        torch.testing.assert_close(coef[g], ref.coef[0], rtol=0, atol=tol)
        torch.testing.assert_close(intercept[g], ref.intercept[0], rtol=0, atol=1e-4 * float(ref.intercept.abs().max()))


def test_scatter_accumulator_keeps_precision_with_large_means():
    rng = np.random.default_rng(1)
    X = 1e6 + rng.normal(size=(500, 5))
    g = rng.integers(0, 3, 500)
    acc = ScatterAccumulator(3, 5)
    for part in np.array_split(np.arange(500), 9):
        acc.update(torch.as_tensor(X[part]), torch.as_tensor(g[part]))
    means = np.stack([X[g == c].mean(0) for c in range(3)])
    R = X - means[g]
    np.testing.assert_allclose(acc.means.numpy(), means, rtol=1e-14)
    np.testing.assert_allclose(acc.scatter.numpy(), R.T @ R, rtol=1e-9, atol=1e-7)  # naive XᵀX - nμμᵀ: ~1e-2
    assert acc.counts.tolist() == np.bincount(g).tolist()


def test_ridge_streaming_takes_labels_and_refuses_one_class(sharded):
    idx = sharded.indices("train")
    perm = np.random.default_rng(0).permutation(sharded.labels[idx])
    coef, intercept = fit_ridge_classifier_streaming(sharded, "0", [1.0], labels=perm)
    ref = fit_ridge_classifier(sharded.read("0", "train").double(), perm, [1.0])
    torch.testing.assert_close(coef, ref.coef[0], rtol=0, atol=1e-8)
    with pytest.raises(DataError, match="single class"):
        ShardStream(sharded, "0", labels=np.zeros(len(idx), dtype=int))
    with pytest.raises(DataError, match="length"):
        ShardStream(sharded, "0", labels=np.zeros(3, dtype=int))
