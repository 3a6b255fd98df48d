"""Sweep jobs: planning, result files, and a rerun that skips what is finished and redoes what is stale."""

import json

import pytest

from probewise.errors import ConfigError
from probewise.sweeps import SweepConfig, jobs, sweep
from probewise.sweeps.jobs import Job, plan_jobs

from .conftest import make_store


def _cfg(**kw):
    return SweepConfig(**{"probes": ("logistic", "ridge"), "C_grid": (0.01, 1.0), "alpha_grid": (1.0, 100.0),
                          "n_boot": 50, **kw})


def test_plan_groups_by_width_then_chunks_and_ignores_world_size():
    layers = {"logistic": ["0", "1", "2", "3"], "mlp": ["0", "1"]}
    keys = {"logistic": {"0": 8, "1": 8, "2": 16, "3": 8}, "mlp": {"0": "0", "1": "1"}}
    whole = plan_jobs(layers, keys, None)
    assert [(j.probe, j.layers) for j in whole] == [("logistic", ("0", "1", "3")), ("logistic", ("2",)),
                                                    ("mlp", ("0",)), ("mlp", ("1",))]
    two = plan_jobs(layers, keys, 2)
    assert [j.layers for j in two][:3] == [("0", "1"), ("3",), ("2",)]
    assert [j.index for j in two] == list(range(len(two)))
    assert Job(3, "logistic", ("0+2",)).key == "0003-logistic-0p2"
    assert len(Job(0, "logistic", tuple(str(i) for i in range(40))).key) < 40


def _mtimes(folder):
    return {p.name: p.stat().st_mtime_ns for p in sorted(folder.glob("*.json"))}


def _numbers(result):
    d = result.to_dict()
    d.pop("timing")
    return json.dumps(d, sort_keys=True)


def test_rerun_skips_finished_jobs_and_redoes_missing_or_stale_ones(tmp_path):
    store = make_store(tmp_path / "s")
    work = tmp_path / "jobs"
    first = sweep(store, _cfg(layers_per_job=1), work_dir=work)
    before = _mtimes(work)
    assert len(before) == 4  # 2 probes × 2 layers
    assert _numbers(sweep(store, _cfg(layers_per_job=1), work_dir=work)) == _numbers(first)
    assert _mtimes(work) == before, "a rerun recomputed finished jobs"

    gone, broken = sorted(before)[:2]
    (work / gone).unlink()
    (work / broken).write_text((work / broken).read_text()[:50])  # a torn file from outside probewise
    again = sweep(store, _cfg(layers_per_job=1), work_dir=work)
    after = _mtimes(work)
    assert set(after) == set(before)
    assert [n for n in before if after[n] != before[n]] == sorted([gone, broken])
    assert _numbers(again) == _numbers(first)

    changed = sweep(store, _cfg(layers_per_job=1, n_boot=60), work_dir=work)  # another config: all stale
    assert all(t != before[n] for n, t in _mtimes(work).items())
    assert changed.config["n_boot"] == 60


def test_results_of_other_code_are_stale(tmp_path, monkeypatch):
    # The version string changes only at releases: a rerun after an upgrade (or an edit) must not load results
    # the old code computed.
    store = make_store(tmp_path / "s")
    work = tmp_path / "jobs"
    sweep(store, _cfg(), work_dir=work)
    before = _mtimes(work)
    assert len(jobs.code_fingerprint()) == 32 and jobs.code_fingerprint() == jobs.code_fingerprint.__wrapped__()
    monkeypatch.setattr(jobs, "code_fingerprint", lambda: "another version of the code")
    sweep(store, _cfg(), work_dir=work)
    assert all(t != before[n] for n, t in _mtimes(work).items())


def test_results_do_not_depend_on_the_work_folder(tmp_path):
    store = make_store(tmp_path / "s", n=360, k=3)
    cfg = _cfg(combine=("0", "2"))
    assert _numbers(sweep(store, cfg)) == _numbers(sweep(store, cfg, work_dir=tmp_path / "w"))


def test_layers_per_job_must_be_positive(tmp_path):
    store = make_store(tmp_path / "s")
    with pytest.raises(ConfigError, match="layers_per_job=0"):
        sweep(store, _cfg(layers_per_job=0))
