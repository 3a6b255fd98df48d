"""Sweep jobs: the unit of work that torchrun ranks share and that a restarted sweep skips.

Example:
    >>> from probewise.sweeps.jobs import plan_jobs
    >>> jobs = plan_jobs({"logistic": ["0", "1", "2"]}, {"logistic": {"0": 8, "1": 8, "2": 16}}, None)
    >>> [(j.probe, j.layers) for j in jobs]
    [('logistic', ('0', '1')), ('logistic', ('2',))]

A job is one probe on a chunk of layers of one feature width, so that a batched solver fits them in one
call. Its result holds the grid rows (train and validation metrics), each layer's choice made on
validation rows only, and then, read after that choice, the chosen model's test metrics, control task
and test probabilities. With a work folder every result is written atomically to `<key>.json` beside a
fingerprint of all that determines it (config, store identity and shard hashes, job, version and code): a rerun
loads what matches and computes only what is missing or stale.

The job list depends on the config alone, never on the number of ranks, so a sweep under torchrun gives
the same numbers as a single process with the same `layers_per_job`.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from probewise._version import __version__
from probewise.errors import StoreError
from probewise.store.files import write_json_atomic

JOB_FORMAT = "probewise-sweep-job"


@dataclass(frozen=True)
class Job:
    """One probe on `layers` (equal widths); `index` is its place in the job list."""

    index: int
    probe: str
    layers: tuple[str, ...]

    @property
    def key(self) -> str:
        names = "_".join(name.replace("+", "p") for name in self.layers)
        if len(names) > 60:
            names = hashlib.sha256(names.encode()).hexdigest()[:16]
        return f"{self.index:04d}-{self.probe}-{names}"


def plan_jobs(probe_layers: Mapping[str, Sequence[str]], group_keys: Mapping[str, Mapping[str, object]],
              layers_per_job: int | None) -> list[Job]:
    """Jobs for every probe: its layers grouped by key (first appearance order), chunked by `layers_per_job`.

    `group_keys[probe][name]` says which layers may share a solver call (their width for pooled probes, the
    layer itself for token probes); `layers_per_job=None` keeps each group whole.
    """
    jobs: list[Job] = []
    for probe, names in probe_layers.items():
        groups: dict[object, list[str]] = {}
        for name in names:
            groups.setdefault(group_keys[probe][name], []).append(name)
        for group in groups.values():
            size = layers_per_job or len(group)
            for i in range(0, len(group), size):
                jobs.append(Job(len(jobs), probe, tuple(group[i:i + size])))
    return jobs


def fingerprint(config: Mapping, manifest: Mapping, job: Job) -> str:
    """A hash of everything a job's result depends on (the code included: see `code_fingerprint`)."""
    store = {"identity": manifest.get("identity"), "dataset": manifest.get("dataset"),
             "shards": [s.get("sha256") for s in manifest.get("shards", [])]}
    blob = json.dumps({"config": config, "store": store, "job": [job.probe, list(job.layers)],
                       "version": __version__, "code": code_fingerprint()}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


@functools.cache
def code_fingerprint() -> str:
    """sha256 of probewise's own source files. The version string changes only at releases; without this, a
    rerun after an upgrade or a local edit would load results the old code computed (about 2 ms, once)."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:32]


@dataclass
class JobDir:
    """Job result files in `root`; `load` returns None for a missing, unreadable or stale result."""

    root: Path
    config: dict
    manifest: dict
    skipped: list[str] = field(default_factory=list)

    def path(self, job: Job) -> Path:
        return self.root / f"{job.key}.json"

    def load(self, job: Job) -> dict | None:
        p = self.path(job)
        try:
            d = json.loads(p.read_text())
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
            return None
        if d.get("format") != JOB_FORMAT or d.get("fingerprint") != fingerprint(self.config, self.manifest, job):
            return None
        return d["result"]

    def save(self, job: Job, result: dict) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot create the sweep's work folder {self.root} ({e.strerror}); "
                             "choose another --out.") from e
        write_json_atomic(self.path(job), {"format": JOB_FORMAT, "fingerprint": fingerprint(
            self.config, self.manifest, job), "probe": job.probe, "layers": list(job.layers), "result": result})


def plain(obj: object) -> object:
    """The JSON form of a result, so that a fresh result and one read back from disk are the same objects."""
    return json.loads(json.dumps(obj, default=_default))


def _default(o: object) -> object:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"cannot serialize {type(o).__name__}")
