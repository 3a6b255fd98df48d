"""Faults with real processes and a real full filesystem."""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import torch.nn as nn

from probewise import Examples, ModuleSource, extract
from probewise.errors import StoreError
from probewise.store import layout
from tests.conftest import HANG_GUARD_S

pytestmark = pytest.mark.slow


def _mount_tmpfs(path, size):
    path.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a size-limited tmpfs here (needs root): {r.stderr.decode().strip()}")


def test_disk_full_then_resume(tmp_path):
    mnt = tmp_path / "small"
    _mount_tmpfs(mnt, "600k")
    try:
        rng = np.random.default_rng(0)
        ex = Examples.from_lists(rng.normal(size=(2000, 8)).astype(np.float32), rng.integers(0, 2, 2000),
                                 modality="tensor")
        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(8, 64), nn.Tanh(), nn.Linear(64, 64))
        src = ModuleSource(net, ["0", "2"], device="cpu")  # 2000 × 128 floats ≈ 1 MB: cannot fit in 600 KB
        with pytest.raises(StoreError, match="disk full.*rerun the same command"):
            extract(src, ex, mnt / "store", shard_size=200, progress=False)
        manifest = json.loads((mnt / "store" / layout.MANIFEST).read_text())
        assert manifest["complete"] is False
        written = sorted((mnt / "store" / layout.SHARD_DIR).glob("shard-*.safetensors"))
        assert written and not list((mnt / "store" / layout.SHARD_DIR).glob(".*tmp*")), "no partial files left"
        from safetensors.torch import load_file

        for p in written:  # every shard that exists is complete and readable
            assert load_file(p)["layer.0"].shape[1] == 64
        subprocess.run(["mount", "-o", "remount,size=4m", str(mnt)], check=True)
        store = extract(src, ex, mnt / "store", shard_size=200, progress=False)
        with torch.no_grad():
            assert torch.allclose(store.read("0"), net[0](torch.as_tensor(ex.inputs)))
        store.verify()
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)  # lazy: mapped tensors may pin it


def test_second_writer_process_refused(tmp_path):
    csv = tmp_path / "d.csv"
    csv.write_text("text,label\n" + "".join(f"line {i} {'w ' * (i % 30)},{i % 2}\n" for i in range(3000)))
    out = tmp_path / "store"
    cmd = [sys.executable, "-m", "probewise", "extract", "--data", str(csv), "--out", str(out), "--no-progress",
           "--device", "cpu", "--shard-size", "100", "--layers", "0-2", "--batch-size", "4"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + HANG_GUARD_S
        while not (out / layout.MANIFEST).exists() and time.time() < deadline and first.poll() is None:
            time.sleep(0.05)
        assert first.poll() is None, "the first extraction ended too early for the test"
        second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=HANG_GUARD_S)
        assert second.returncode == 2
        assert "being written by another process" in second.stderr and str(first.pid) in second.stderr
    finally:
        first.kill()
        first.wait()
    # the killed writer leaves no stale lock (the OS drops it with the process) and an incomplete store
    from probewise.store.files import StoreLock

    with StoreLock(out):
        pass
    assert json.loads((out / layout.MANIFEST).read_text())["complete"] is False
