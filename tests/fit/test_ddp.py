"""DDP, the opt-in path for one probe too large for a device: 2 gloo ranks train the same model as one process."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

pytestmark = pytest.mark.slow
SCRIPT = Path(__file__).with_name("ddp_train.py")


def _load(path):
    with safe_open(str(path), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, f.metadata()


def test_ddp_on_two_ranks_matches_one_process(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    torchrun = Path(sys.executable).with_name("torchrun")
    multi = subprocess.run([str(torchrun), "--standalone", "--nproc-per-node", "2", str(SCRIPT), str(tmp_path / "m")],
                           env=env, capture_output=True, text=True, timeout=300)
    assert multi.returncode == 0, multi.stderr[-3000:]
    single = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "s")], env=env, capture_output=True,
                            text=True, timeout=300)
    assert single.returncode == 0, single.stderr[-3000:]
    (a, meta_a), (b, meta_b) = _load(tmp_path / "m"), _load(tmp_path / "s")
    assert (meta_a["world"], meta_b["world"]) == ("2", "1")
    assert meta_a["best_epoch"] == meta_b["best_epoch"]
    # each rank trained on its half of every batch (12 epochs × 600 rows in all), not on all of them
    assert meta_b["rows_per_rank"] == str(12 * 600)
    assert sum(map(int, meta_a["rows_per_rank"].split(","))) == 12 * 600
    assert float(meta_a["best_val_loss"]) < 0.7 * float(meta_a["first_val_loss"])  # it learned
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=2e-5, rtol=1e-4)
