"""Real-looking layer features for the solver and probe tests.

Clustered latent data goes through a fixed random projection per layer, a GELU and a LayerNorm with a
random affine (gain and bias), so the features are exactly rank-deficient after centring and have
columns of very different scales, like a transformer's residual stream.
"""

from __future__ import annotations

import functools
import tempfile

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits


def layer_features(
    n_layers: int = 3,
    n: int = 300,
    d: int = 48,
    n_classes: int = 2,
    latent: int = 12,
    seed: int = 0,
    label_noise: float = 0.1,
) -> tuple[np.ndarray, np.ndarray]:
    """Features ``[n_layers, n, d]`` (float64) and labels ``[n]`` (ints ``0..n_classes-1``)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    rng.shuffle(y)
    centers = rng.normal(size=(n_classes, 2, latent))
    z = centers[y, rng.integers(0, 2, size=n)] * 0.7 + rng.normal(size=(n, latent))
    flip = rng.random(n) < label_noise
    y = np.where(flip, rng.integers(0, n_classes, size=n), y)
    layers = []
    for layer in range(n_layers):
        P = rng.normal(size=(latent, d)) / np.sqrt(latent)
        h = z @ P * (0.6 + 0.3 * layer) + 0.3 * rng.normal(size=(n, d))
        h = 0.5 * h * (1 + np.tanh(0.79788456 * (h + 0.044715 * h**3)))  # GELU
        h = (h - h.mean(1, keepdims=True)) / np.sqrt(h.var(1, keepdims=True) + 1e-5)  # LayerNorm
        gain = rng.lognormal(sigma=0.7, size=d)
        layers.append(h * gain + rng.normal(size=d) * 0.5)
    return np.stack(layers), y


@functools.cache
def minilm_features(task: str) -> tuple[np.ndarray, np.ndarray]:
    """The real thing: the embedded MiniLM's mean-pooled layers 1 and 5 (``[2, 490, 384]`` float64) of 700
    sentences of a built-in task (seed 11), and the training labels; extracted once per test session."""
    from probewise.extract import ExtractConfig, run_extract

    store = run_extract(ExtractConfig(out=tempfile.mkdtemp(prefix="pw-minilm-") + "/s", task=task, task_size=700,
                                      layers="1,5", seed=11, progress=False))
    X = np.stack([store.read(layer, "train").double().numpy() for layer in ("1", "5")])
    return X, store.labels[store.indices("train")]


@pytest.fixture(autouse=True)
def one_thread():
    """One thread for torch and for scikit-learn's BLAS/OpenMP pools while a test runs (restored after).

    The products in these tests are small; on a shared 2-core machine a pool whose threads wait for each
    other is many times slower than one thread. Import this fixture into a test module to apply it there.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(before)
