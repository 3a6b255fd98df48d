import numpy as np
import pytest
import torch
import torch.nn as nn

from probewise import Examples, ModuleSource, extract


def make_store(path, n=300, k=2, d=12, seed=0, split=None):
    """A real store from a small frozen net over clustered inputs: layer '0' informative, layer '2' less so."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    centers = rng.normal(size=(k, d)) * 1.2
    x = (centers[y] + rng.normal(size=(n, d))).astype(np.float32)
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(d, 16), nn.Tanh(), nn.Linear(16, 3))
    ex = Examples.from_lists(x, [f"c{c}" for c in y], split=split, modality="tensor", name=f"toy{k}", seed=seed)
    return extract(ModuleSource(net, ["0", "2"], device="cpu"), ex, path, shard_size=128, progress=False)


@pytest.fixture
def store2(tmp_path):
    return make_store(tmp_path / "s2")


@pytest.fixture
def store3(tmp_path):
    return make_store(tmp_path / "s3", n=360, k=3)
