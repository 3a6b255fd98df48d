"""torchrun with 2 CPU processes (gloo) writes the same store as a single process."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from probewise import open_store
from probewise.distributed import DistInfo
from tests.conftest import HANG_GUARD_S

pytestmark = pytest.mark.slow


def test_dist_info_from_env():
    info = DistInfo.from_env({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"})
    assert info.distributed and not info.is_main and info.device("cpu") == "cpu"
    assert not DistInfo.from_env({}).distributed


def _args(csv, out):
    return ["-m", "probewise", "extract", "--data", str(csv), "--out", str(out), "--shard-size", "16",
            "--batch-size", "4", "--layers", "0,3", "--no-progress", "--device", "cpu"]


def test_torchrun_extract_equals_single_process(tmp_path):
    csv = tmp_path / "d.csv"
    csv.write_text("text,label\n" + "".join(f"sentence number {i} {'good' if i % 2 else 'bad'} {'x ' * (i % 9)},"
                                             f"{i % 2}\n" for i in range(100)))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    torchrun = Path(sys.executable).with_name("torchrun")
    launch = [str(torchrun), "--nproc-per-node", "2", "--master-port", "29533"]
    multi = subprocess.run([*launch, *_args(csv, tmp_path / "m")],
                           env=env, capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert multi.returncode == 0, multi.stderr[-3000:]
    single = subprocess.run([sys.executable, *_args(csv, tmp_path / "s")], env=env, capture_output=True, text=True,
                            timeout=HANG_GUARD_S)
    assert single.returncode == 0, single.stderr[-3000:]
    a, b = open_store(tmp_path / "m", verify=True), open_store(tmp_path / "s", verify=True)
    assert a.n == b.n == 100
    for layer in ("0", "3"):
        assert torch.equal(a.read(layer), b.read(layer))
    assert [s["sha256"] for s in a.manifest["shards"]] == [s["sha256"] for s in b.manifest["shards"]]
    # the printed summary comes once (rank 0), not once per rank
    assert multi.stdout.count("wrote 100 examples") == 1


def test_torchrun_with_offloaded_weights_in_each_rank_equals_single_process(tmp_path, smollm2_path):
    """Several processes, each holding a replica whose weights partly live on disk (--device-map inside each rank):
    the data-parallel extraction equals a single in-memory process."""
    csv = tmp_path / "d.csv"
    csv.write_text("text,label\n" + "".join(f"fact number {i} is {'true' if i % 2 else 'false'},{i % 2}\n"
                                             for i in range(24)))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    args = ["-m", "probewise", "extract", "--model", "smollm2", "--data", str(csv), "--shard-size", "6",
            "--batch-size", "3", "--layers", "2,30", "--pooling", "last", "--no-progress", "--device", "cpu"]
    torchrun = Path(sys.executable).with_name("torchrun")
    multi = subprocess.run([str(torchrun), "--nproc-per-node", "2", "--master-port", "29534", *args, "--out",
                            str(tmp_path / "m"), "--device-map", "auto", "--max-memory", "cpu=100MiB"],
                           env=env, capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert multi.returncode == 0, multi.stderr[-3000:]
    single = subprocess.run([sys.executable, *args, "--out", str(tmp_path / "s")], env=env, capture_output=True,
                            text=True, timeout=HANG_GUARD_S)
    assert single.returncode == 0, single.stderr[-3000:]
    a, b = open_store(tmp_path / "m", verify=True), open_store(tmp_path / "s", verify=True)
    assert a.manifest["identity"] == b.manifest["identity"]
    assert torch.equal(a.read("2"), b.read("2"))
    torch.testing.assert_close(a.read("30"), b.read("30"), atol=1e-5, rtol=0)
