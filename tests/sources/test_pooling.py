import pytest
import torch

from probewise.errors import ConfigError
from probewise.sources.pooling import pool, pool_layers


@pytest.mark.parametrize("how", ["mean", "max", "first", "last"])
def test_pool_layers_bitwise_equal_to_pool(how):
    torch.manual_seed(0)
    lengths = torch.tensor([9, 1, 4, 9, 7])
    mask = (torch.arange(9)[None] < lengths[:, None]).long()
    hiddens = [torch.randn(5, 9, 16) * 10 ** i for i in range(4)] + [torch.randn(5, 9, 16, dtype=torch.float64)]
    got = pool_layers(hiddens, mask, how)
    assert len(got) == len(hiddens)
    for h, g in zip(hiddens, got, strict=True):
        assert g.dtype == h.dtype and torch.equal(g, pool(h, mask, how))


def test_pool_layers_rejects_unknown():
    with pytest.raises(ConfigError, match="mean/last/first/max"):
        pool_layers([torch.zeros(1, 2, 3)], torch.ones(1, 2), "tokens")
