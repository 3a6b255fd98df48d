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
        conv = net.conv(x)  # a Conv1d output is [b, channels, time] (torch's layout): tokens are time steps
        enc0 = net.encoder.layers[0](conv.transpose(1, 2))
    assert torch.allclose(out["conv"], conv.mean(2), atol=1e-6)
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


class Unlabelled(nn.Module):
    """A rank-3 output from a module whose layout torch does not document (a custom block)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(3, 5, 1)
        self.act = nn.GELU()

    def forward(self, x):
        return self.act(self.conv(x))


def test_unknown_rank3_layout_is_an_error_not_a_guess():
    x = torch.randn(2, 3, 7)
    with pytest.raises(SourceError, match=r"'act' \(GELU\) outputs \[2, 5, 7\].*'bct'"):
        ModuleSource(Unlabelled(), ["act"], pooling="mean", device="cpu").run_batch(x)


def test_last_axis_modules_are_read_as_tokens_by_features():
    net = nn.Sequential(nn.Linear(4, 6), nn.LayerNorm(6))
    x = torch.randn(2, 5, 4)
    out = ModuleSource(net, ["0", "1"], pooling="mean", device="cpu").run_batch(x)
    torch.testing.assert_close(out["0"], net[0](x).mean(1))
    torch.testing.assert_close(out["1"], net(x).mean(1))


def test_explicit_layouts():
    torch.manual_seed(0)
    net = Unlabelled().eval()
    x = torch.randn(2, 3, 7)
    with torch.no_grad():
        h = net(x)  # [b, 5 channels, 7 time steps]
    bct = ModuleSource(net, ["act"], pooling="mean", device="cpu", layout="bct").run_batch(x)["act"]
    assert torch.allclose(bct, h.mean(2), atol=1e-6)
    btd = ModuleSource(net, ["act"], pooling="last", device="cpu", layout={"act": "btd"}).run_batch(x)["act"]
    assert torch.allclose(btd, h[:, -1, :])
    toks = ModuleSource(net, ["act"], pooling="tokens", device="cpu", layout="bct").run_batch(x)["act"]
    assert [tuple(t.shape) for t in toks] == [(7, 5), (7, 5)]
    flat = ModuleSource(net, ["act"], pooling="none", device="cpu", layout="flat").run_batch(x)["act"]
    assert torch.equal(flat, h.reshape(2, -1))
    src = ModuleSource(net, ["act"], pooling="mean", device="cpu", layout="bct")
    assert src.describe()["layouts"] == {"act": "bct"}
    with pytest.raises(SourceError, match="not valid"):
        ModuleSource(net, ["act"], layout="tbd")
    with pytest.raises(SourceError, match="not one of the layers"):
        ModuleSource(net, ["act"], layout={"conv": "bct"})
    with pytest.raises(SourceError, match="names 4 axes"):
        ModuleSource(net, ["act"], pooling="mean", device="cpu", layout="bchw").run_batch(x)


def test_several_inputs_as_a_tuple_or_dict():
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 3)
            self.b = nn.Linear(4, 3)

        def forward(self, x, y):
            return self.a(x) + self.b(y)

    net = Two().eval()
    x, y = torch.randn(5, 2), torch.randn(5, 4)
    pos = ModuleSource(net, ["b"], to_input=lambda items: (x, y), device="cpu").run_batch(range(5))["b"]
    kw = ModuleSource(net, ["b"], to_input=lambda items: {"x": x, "y": y}, device="cpu").run_batch(range(5))["b"]
    with torch.no_grad():
        assert torch.equal(pos, net.b(y)) and torch.equal(kw, net.b(y))
