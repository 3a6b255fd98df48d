"""`probewise layers MODEL` on the four kinds of model, and extraction of ONNX / module:attr models from the CLI."""

import json
import sys

import numpy as np
import pytest

from probewise.cli import main
from probewise.errors import SourceError
from probewise.sources.kinds import load_module, model_kind
from probewise.store import open_store
from tests.sources.test_onnx import SPINDLE

NET = '''
import torch.nn as nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 8, 3, padding=1)
        self.act = nn.GELU()
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        h = self.act(self.conv(x))
        return self.head(h.mean(2))

net = Net().eval()
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "my_eeg_nets.py").write_text(NET)
    monkeypatch.chdir(tmp_path)
    yield "my_eeg_nets:net"
    sys.modules.pop("my_eeg_nets", None)


def _layers(capsys, *args) -> list[dict]:
    assert main(["layers", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_layers_of_a_module(user_module, capsys):
    assert model_kind(user_module) == "module"
    rows = _layers(capsys, user_module, "--input-shape", "4,16")
    assert [(r["name"], r["op"], r["shape"], r["layout"]) for r in rows] == [
        ("conv", "Conv1d", [1, 8, 16], "bct"), ("act", "GELU", [1, 8, 16], None), ("head", "Linear", [1, 2], "bd")]
    assert [r["shape"] for r in _layers(capsys, user_module)] == [None, None, None]  # no input shape: names only


def test_layers_of_onnx_and_hf(capsys, minilm_path):
    rows = _layers(capsys, str(SPINDLE), "--filter", "/model/model/conv/conv_net/conv_net.1*/Add")
    assert [r["name"] for r in rows] == ["/model/model/conv/conv_net/conv_net.1/Add",
                                         "/model/model/conv/conv_net/conv_net.10/Add",
                                         "/model/model/conv/conv_net/conv_net.11/Add"]
    assert rows[0]["shape"] == [1, 128, 7500] and rows[0]["layout"] is None and rows[0]["op"] == "Add"
    hf = _layers(capsys, minilm_path)
    assert len(hf) == 7 and hf[0]["op"] == "embeddings" and hf[3]["shape"][-1] == 384


@pytest.mark.slow
def test_layers_of_a_gguf_model(capsys, smollm2_path):
    rows = _layers(capsys, "smollm2")
    assert len(rows) == 31 and rows[-1]["shape"][-1] == 576 and rows[1]["op"] == "layers.0"


def test_extract_module_and_onnx_from_arrays(tmp_path, user_module, capsys):
    rng = np.random.default_rng(0)
    np.save("X.npy", rng.normal(size=(24, 4, 16)).astype(np.float32))
    (tmp_path / "y.csv").write_text("label,subject\n" + "".join(f"{i % 2},s{i % 3}\n" for i in range(24)))
    assert main(["extract", "--model", user_module, "--data", "X.npy", "--labels", "y.csv", "--group-column",
                 "subject", "--layers", "conv,act", "--layout", "bct", "--out", "st", "--no-progress"]) == 0
    store = open_store("st")
    assert store.layers == ["conv", "act"] and store.dims == {"conv": 8, "act": 8} and store.groups is not None
    assert main(["extract", "--model", user_module, "--data", "X.npy", "--labels", "y.csv", "--layers", "act",
                 "--out", "st2", "--no-progress"]) == 2
    assert "(GELU) outputs [" in capsys.readouterr().err
    assert main(["extract", "--model", str(SPINDLE), "--data", "X.npy", "--labels", "y.csv", "--layers",
                 "/model/model/conv/conv_net/conv_net.0/conv/Conv", "--out", "st3", "--no-progress"]) == 2
    assert "takes 2 inputs" in capsys.readouterr().err
    assert main(["extract", "--model", str(SPINDLE), "--data", "X.npy", "--labels", "y.csv", "--out", "st4",
                 "--no-progress"]) == 2
    assert "name the layers to probe with --layers" in capsys.readouterr().err


def test_load_module_errors(user_module):
    with pytest.raises(SourceError, match="has no attribute 'nope'"):
        load_module("my_eeg_nets:nope")
    with pytest.raises(SourceError, match="could not import 'no_such_module_xyz'"):
        load_module("no_such_module_xyz:net")
    with pytest.raises(SourceError, match="not a torch.nn.Module"):
        load_module("json:dumps.__doc__")
