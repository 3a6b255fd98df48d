import pytest
import torch
import torch.nn as nn

from probewise.errors import SourceError
from probewise.sources.module import ModuleSource


class EEGNetLike(nn.Module):
    """A small conv + transformer encoder, standing in for an EEG/audio model."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 16, 5, padding=2)
        self.encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 2, 32, batch_first=True), 2)
        self.head = nn.Linear(16, 3)
        self.head_calls = 0

    def forward(self, x):  # x [b, channels, time]
        h = self.conv(x).transpose(1, 2)  # [b, t, 16]
        h = self.encoder(h)
        self.head_calls += 1
        return self.head(h.mean(1))


def test_hooks_pool_and_stop_early():
    torch.manual_seed(0)
    net = EEGNetLike().eval()
    x = torch.randn(6, 4, 20)
    src = ModuleSource(net, layers=["conv", "encoder.layers.0"], pooling="mean", device="cpu")
    out = src.run_batch(x)
    with torch.no_grad():
        conv = net.conv(x)  # rank-3 outputs are read as [b, t, d] (documented); here t = 16 channels
        enc0 = net.encoder.layers[0](conv.transpose(1, 2))
    assert torch.allclose(out["conv"], conv.mean(1), atol=1e-6)  # rank-3 outputs are [b, t, d]
    assert torch.allclose(out["encoder.layers.0"], enc0.mean(1), atol=1e-5)
    assert net.head_calls == 0, "the forward pass must stop after the last requested module"
    assert not net.conv._forward_hooks


def test_conv_maps_and_vectors():
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(5))
    x = torch.randn(2, 3, 6, 6)
    net(x)
    out = ModuleSource(net, ["0"], pooling="max", device="cpu").run_batch(x)
    assert out["0"].shape == (2, 8)
    assert torch.allclose(out["0"], net[0](x).amax(dim=(2, 3)))
    vec = ModuleSource(net, ["3"], pooling="none", device="cpu").run_batch(x)
    assert vec["3"].shape == (2, 5)


def test_errors():
    net = nn.Sequential(nn.Linear(4, 4))
    with pytest.raises(SourceError, match="no submodule 'fc'"):
        ModuleSource(net, ["fc"])
    with pytest.raises(SourceError, match="pooling 'last' is not available"):
        ModuleSource(net, ["0"], pooling="last", device="cpu").run_batch(torch.randn(2, 4))
    seq = nn.Sequential(nn.Conv1d(2, 3, 1))
    with pytest.raises(SourceError, match="choose a pooling"):
        ModuleSource(seq, ["0"], pooling="none", device="cpu").run_batch(torch.randn(2, 2, 5))
