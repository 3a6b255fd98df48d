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
