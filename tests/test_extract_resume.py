"""kill -9 a real extraction process mid-way; the rerun resumes and equals an uninterrupted run."""

import os
import subprocess
import sys

import pytest
import torch

from probewise import open_store
from probewise.store import layout

from .conftest import HANG_GUARD_S, kill9_when

pytestmark = pytest.mark.slow


def _write_csv(path, n):
    words = ["alpha", "beta", "gamma", "delta", "river", "mountain", "quiet", "loud", "red", "blue"]
    lines = ["text,label"]
    for i in range(n):
        k = 3 + i % 17
        lines.append(" ".join(words[(i * 7 + j * 3) % len(words)] for j in range(k)) + f",{i % 3}")
    path.write_text("\n".join(lines) + "\n")


def _cmd(csv, out):
    return [sys.executable, "-m", "probewise", "extract", "--model", "default", "--data", str(csv),
            "--out", str(out), "--shard-size", "64", "--batch-size", "8", "--layers", "0,2,4",
            "--no-progress", "--device", "cpu"]


def test_kill9_then_resume_equals_uninterrupted(tmp_path):
    csv = tmp_path / "d.csv"
    _write_csv(csv, 1600)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    killed = tmp_path / "killed"
    proc = subprocess.Popen(_cmd(csv, killed), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    shard_dir = killed / layout.SHARD_DIR
    survivors = kill9_when(proc, shard_dir, "shard-*.safetensors", 3, HANG_GUARD_S,
                           "extraction finished before it could be killed; make the dataset larger")
    assert 3 <= len(survivors) < 25
    with pytest.raises(Exception, match="incomplete"):
        open_store(killed)

    subprocess.run(_cmd(csv, killed), env=env, check=True, capture_output=True)
    for name, mtime in survivors.items():
        assert (shard_dir / name).stat().st_mtime_ns == mtime, f"{name} was recomputed"
    assert not list(shard_dir.glob(".*tmp*")), "temporary files left behind"

    clean = tmp_path / "clean"
    subprocess.run(_cmd(csv, clean), env=env, check=True, capture_output=True)
    a, b = open_store(killed, verify=True), open_store(clean, verify=True)
    for layer in a.layers:
        assert torch.equal(a.read(layer), b.read(layer))
    assert [s["sha256"] for s in a.manifest["shards"]] == [s["sha256"] for s in b.manifest["shards"]]


def test_extract_threads_option(tmp_path):
    from probewise.errors import ConfigError
    from probewise.extract import ExtractConfig, run_extract

    before = torch.get_num_threads()
    try:
        with pytest.raises(ConfigError, match="threads=0 must be ≥ 1"):
            run_extract(ExtractConfig(out=str(tmp_path / "bad"), task="tense", threads=0))
        store = run_extract(ExtractConfig(out=str(tmp_path / "s"), task="tense", task_size=60, layers="0,2",
                                          threads=1, progress=False, device="cpu"))
        assert torch.get_num_threads() == 1 and store.manifest["config"]["extract"]["threads"] == 1
    finally:
        torch.set_num_threads(before)
