"""The sweep as real processes: torchrun with 2 gloo ranks equals one process; kill -9 then rerun resumes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import HANG_GUARD_S

from ..conftest import kill9_when
from .conftest import make_store

pytestmark = pytest.mark.slow

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


def _sweep_args(store, out, probes="logistic,ridge,meandiff,knn"):
    return ["-m", "probewise", "sweep", str(store), "--out", str(out), "--probe", probes, "--layers-per-job", "1",
            "--C-grid", "0.01,1,100", "--n-boot", "50", "--combine", "0,2", "--no-progress"]


def _numbers(path):
    d = json.loads(Path(path).read_text())
    d.pop("timing")
    return d


def test_torchrun_sweep_equals_single_process(tmp_path):
    store = make_store(tmp_path / "s", n=360, k=3)
    torchrun = Path(sys.executable).with_name("torchrun")
    multi = subprocess.run([str(torchrun), "--standalone", "--nproc-per-node", "2",
                            *_sweep_args(store.root, tmp_path / "m")], env=ENV, capture_output=True, text=True,
                           timeout=HANG_GUARD_S)
    assert multi.returncode == 0, multi.stderr[-3000:]
    single = subprocess.run([sys.executable, *_sweep_args(store.root, tmp_path / "one")], env=ENV,
                            capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert single.returncode == 0, single.stderr[-3000:]
    assert _numbers(tmp_path / "m.json") == _numbers(tmp_path / "one.json")
    # 4 pooled probes × (2 layers + the combined one) = 12 jobs, one result file each
    jobs = sorted(p.name for p in (tmp_path / "m.jobs").glob("*.json"))
    assert len(jobs) == 12 and jobs == sorted(p.name for p in (tmp_path / "one.jobs").glob("*.json"))
    assert multi.stdout.count("wrote ") == 1  # rank 0 gathers and writes; rank 1 stays quiet


def test_two_nodes_simulated_on_one_machine_equal_single_process(tmp_path):
    """`--nnodes 2` with a c10d rendezvous, one process per "node", as the README's multi-node recipe."""
    store = make_store(tmp_path / "s")
    torchrun = Path(sys.executable).with_name("torchrun")
    nodes = [subprocess.Popen([str(torchrun), "--nnodes", "2", "--node-rank", str(r), "--nproc-per-node", "1",
                               "--rdzv-backend", "c10d", "--rdzv-endpoint", "localhost:29535", "--rdzv-id", "pw",
                               *_sweep_args(store.root, tmp_path / "nodes", probes="logistic,ridge")],
                              env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in (0, 1)]
    outs = [n.communicate(timeout=HANG_GUARD_S) for n in nodes]
    assert [n.returncode for n in nodes] == [0, 0], outs[0][1][-2000:] + outs[1][1][-2000:]
    single = subprocess.run([sys.executable, *_sweep_args(store.root, tmp_path / "one", probes="logistic,ridge")],
                            env=ENV, capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert single.returncode == 0, single.stderr[-3000:]
    assert _numbers(tmp_path / "nodes.json") == _numbers(tmp_path / "one.json")
    assert sum(out.count("wrote ") for out, _ in outs) == 1


def test_kill9_during_sweep_then_rerun_recomputes_nothing_finished(tmp_path):
    store = make_store(tmp_path / "s", n=2400, k=3, d=32)
    args = [*_sweep_args(store.root, tmp_path / "killed", probes="mlp,logistic"), "--results-format", "json"]
    jobs = tmp_path / "killed.jobs"
    proc = subprocess.Popen([sys.executable, *args], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    survivors = kill9_when(proc, jobs, "*.json", 1, HANG_GUARD_S,
                           "the sweep finished before it could be killed; give it more work")
    assert 1 <= len(survivors) < 6  # (mlp, logistic) × (0, 2, 0+2)
    assert not (tmp_path / "killed.json").exists()

    rerun = subprocess.run([sys.executable, *args], env=ENV, capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    for name, mtime in survivors.items():
        assert (jobs / name).stat().st_mtime_ns == mtime, f"{name} was recomputed"
    assert len(list(jobs.glob("*.json"))) == 6 and not list(jobs.glob(".*"))

    clean_args = [*_sweep_args(store.root, tmp_path / "clean", probes="mlp,logistic"), "--results-format", "json"]
    clean = subprocess.run([sys.executable, *clean_args], env=ENV, capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert clean.returncode == 0, clean.stderr[-3000:]
    assert _numbers(tmp_path / "killed.json") == _numbers(tmp_path / "clean.json")
