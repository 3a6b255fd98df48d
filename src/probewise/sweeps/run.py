"""The sweep: every probe × layer × hyperparameter, chosen on validation, scored once on test.

Example:
    >>> # from probewise import open_store, sweep, SweepConfig
    >>> # result = sweep(open_store("runs/reviews"), SweepConfig(probes=("logistic", "ridge")))
    >>> # print(result.table())

Integrity by construction: `select_on_val` receives validation rows only; the test split is read
after selection, to score the chosen configurations (see `execute.py`).

The work is cut into jobs (`jobs.py`: a probe on a chunk of layers). Under torchrun the ranks share them;
with a work folder each finished job's result is kept, so a killed sweep reruns only what was missing;
rank 0 gathers the results, chooses across layers on validation and writes the result.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from probewise import distributed as dist
from probewise.errors import ConfigError, DataError, ProbewiseError, StoreError
from probewise.evaluation.controls import majority_baseline, random_direction_baseline, tfidf_baseline
from probewise.evaluation.geometry import layer_geometry
from probewise.store.reader import Store
from probewise.sweeps import selection
from probewise.sweeps.execute import JobContext, run_job
from probewise.sweeps.families import default_grid, get_family
from probewise.sweeps.features import Features
from probewise.sweeps.jobs import Job, JobDir, plain, plan_jobs
from probewise.sweeps.results import SweepResult
from probewise.sweeps.selection import TEST_METRICS, VAL_METRICS, select_on_val

__all__ = ["TEST_METRICS", "VAL_METRICS", "SweepConfig", "select_on_val", "sweep"]


@dataclass
class SweepConfig:
    """What to sweep. Flags of `probewise sweep` map onto these fields.

    Attributes:
        probes: probe families: logistic, ridge, meandiff (batched solvers); mlp, knn (pooled); efficient,
            attentive, moment, mean_linear, ema_max, attention, multimax, rolling (token stores).
        layers: store layers to sweep (None = all): names, indices (negative from the last), ranges "0-4", globs
            (see :meth:`Store.select_layers`).
        C_grid / alpha_grid / shrinkage_grid: the grid of each family (None = its default).
        select: validation metric that chooses (accuracy | balanced_accuracy | log_loss | auroc).
        refit: refit the chosen configuration on train+val before scoring test.
        combine: layers concatenated into one extra feature set (multi-block linear evaluation).
        grids: probe → grid values for the zoo probes (e.g. {"mlp": (1e-3, 1e-1), "knn": (10, 20)}).
        token_pooling: how pooled probes read a tokens store (mean | max | first | last).
        level: example (one label per example) | token (per-token labels of a word-labelled tokens store:
            every labelled token is one example; the control task assigns a random label per word type).
        engine: torch (batched, fast) | sklearn (the reference loop) | stream (logistic, ridge, meandiff read
            one shard at a time, for stores larger than memory; no random-direction baseline or geometry, which
            need a layer in memory); zoo probes are torch under torch and sklearn.
        n_boot: bootstrap resamples for test intervals.
        seed: seed of everything random (solvers, bootstrap, control labels).
        control: train each layer's chosen probe on permuted labels too (Hewitt & Liang's control
            task) and report selectivity = accuracy − control accuracy.
        baselines: report majority-class, random-direction and (text stores) TF-IDF bag-of-words baselines,
            and per-layer geometry.
        layers_per_job: layers per job (the unit that torchrun ranks share and a rerun skips); None keeps all
            layers of one probe and width in one job, fitted in one batched call. Results depend on this
            value, never on the number of ranks.
    """

    probes: tuple[str, ...] = ("logistic",)
    layers: tuple[str, ...] | None = None
    C_grid: tuple[float, ...] | None = None
    alpha_grid: tuple[float, ...] | None = None
    shrinkage_grid: tuple[float, ...] | None = None
    select: str = "accuracy"
    refit: bool = False
    combine: tuple[str, ...] | None = None
    engine: str = "torch"
    n_boot: int = 1000
    seed: int = 0
    control: bool = True
    baselines: bool = True
    token_pooling: str = "mean"
    grids: dict | None = None
    level: str = "example"
    layers_per_job: int | None = None

    def grid_for(self, probe: str) -> tuple[float, ...]:
        given = {"logistic": self.C_grid, "ridge": self.alpha_grid, "meandiff": self.shrinkage_grid}.get(probe)
        if given is None and self.grids:
            given = self.grids.get(probe)
        values = tuple(float(v) for v in (given if given is not None else default_grid(probe)))
        if not values:
            raise ConfigError(f"the {probe} grid is empty.")
        if probe != "meandiff" and any(not v > 0 for v in values):
            raise ConfigError(f"{probe} grid values must be > 0 (got {[v for v in values if not v > 0]}).")
        if probe == "meandiff" and any(not 0 <= v <= 1 for v in values):
            raise ConfigError("meandiff shrinkage values must be in [0, 1].")
        return values


def sweep(store: Store, config: SweepConfig | None = None, *, progress: bool = False,
          work_dir: str | Path | None = None) -> SweepResult | None:
    """Run the sweep on a store. See `SweepConfig`.

    `work_dir`: a folder for the jobs' result files; a rerun skips the jobs whose results are there and match.
    Under torchrun every rank runs its share of the jobs (a work folder is then required), and rank 0 gathers
    them and returns the result; the other ranks return None.
    """
    cfg = config or SweepConfig()
    if cfg.select not in VAL_METRICS:
        raise ConfigError(f"select={cfg.select!r}: choose one of {', '.join(VAL_METRICS)}.")
    if cfg.layers_per_job is not None and cfg.layers_per_job < 1:
        raise ConfigError(f"layers_per_job={cfg.layers_per_job}: give a positive number (or none for whole groups).")
    layers = store.select_layers(cfg.layers)
    for probe in cfg.probes:  # every config check before any data is read
        get_family(probe, cfg.engine)
        cfg.grid_for(probe)
    if cfg.level not in ("example", "token"):
        raise ConfigError(f"level={cfg.level!r}: use 'example' or 'token'.")
    if cfg.engine == "stream":
        if store.pooling == "tokens" or cfg.level != "example":
            raise ConfigError("the stream engine reads pooled stores at the example level; this store keeps tokens "
                              "(use --engine torch, or re-extract with --pooling mean).")
        if cfg.combine or cfg.refit:
            raise ConfigError("the stream engine does not combine layers or refit on train+val; drop --combine/"
                              "--refit or use --engine torch.")
    info = dist.init()
    if info.distributed and work_dir is None:
        raise ConfigError("a sweep under torchrun needs a work folder for the jobs' results: give --out "
                          "(Python: sweep(..., work_dir=...)).")
    feats = Features(store, cfg.token_pooling, level=cfg.level, stream=cfg.engine == "stream")
    ctx = JobContext(cfg, feats, {})
    classes, k, y_tr, y_va = ctx.classes, ctx.k, ctx.y_tr, ctx.y_va
    if len(y_va) == 0:
        raise DataError("the store has no validation examples; selection needs a val split.")
    for split, yy in (("train", y_tr), ("val", y_va)):
        present = np.unique(yy)
        if len(present) < 2:
            raise DataError(f"the {split} split has a single class ({classes[present[0]]!r}); re-split the data.")
    if len(y_va) < k:
        raise DataError(f"the val split has {len(y_va)} examples for {k} classes; give it more examples.")

    names = list(layers)
    widths: dict[str, object] = {n: store.dims[n] for n in names}
    if cfg.combine:
        parts = [store.resolve_layer(x) for x in cfg.combine]
        names.append("+".join(parts))
        widths[names[-1]] = sum(store.dims[p] for p in parts)
    probe_names: dict[str, list[str]] = {}
    groups: dict[str, dict[str, object]] = {}
    for probe in cfg.probes:
        pooled = get_family(probe, cfg.engine).input_kind == "pooled"
        probe_names[probe] = [n for n in names if pooled or "+" not in n]
        # Pooled layers of one width are fitted together; token probes take one layer at a time.
        groups[probe] = {n: widths[n] if pooled else n for n in probe_names[probe]}
    ctx.probe_layers = probe_names
    jobs = plan_jobs(probe_names, groups, cfg.layers_per_job)
    outcomes = _run_jobs(jobs, ctx, store, info, work_dir, progress)
    if outcomes is None:
        return None
    return _gather(store, cfg, ctx, layers, probe_names, jobs, outcomes)


def _run_jobs(jobs: list[Job], ctx: JobContext, store: Store, info: dist.DistInfo, work_dir, progress: bool
              ) -> dict[int, dict] | None:
    """Run this rank's share of `jobs` (skipping those whose results are saved); on rank 0 return them all."""
    jobdir = JobDir(Path(work_dir), asdict(ctx.cfg), store.manifest) if work_dir is not None else None
    mine = jobs[info.rank::info.world_size]
    outcomes: dict[int, dict] = {}
    error = None
    bar = tqdm(mine, desc="sweep jobs", unit="job", disable=not (progress and info.is_main), leave=False)
    job = None
    try:
        for job in bar:
            saved = jobdir.load(job) if jobdir is not None else None
            if saved is not None:
                outcomes[job.index] = {**saved, "reused": True}
                continue
            result = plain(run_job(job, ctx))
            if jobdir is not None:
                jobdir.save(job, result)
            outcomes[job.index] = result
    except Exception as e:  # noqa: BLE001 - under torchrun every rank must hear of it, or the others hang
        if not info.distributed:
            raise
        where = f"rank {info.rank}, job {job.key}" if job is not None else f"rank {info.rank}"
        error = f"{where}: {e}" if isinstance(e, ProbewiseError) else f"{where}: {e!r}"
    errors = [m for m in dist.all_gather(error) if m is not None]
    if errors:
        raise ProbewiseError("the sweep failed on " + "; ".join(errors))
    if not info.is_main:
        return None
    for job in jobs:
        if job.index not in outcomes:
            saved = jobdir.load(job)
            if saved is None:
                raise StoreError(f"job {job.key} has no result in {jobdir.root} after every rank finished; "
                                 "rerun the sweep (finished jobs are kept).")
            outcomes[job.index] = saved  # computed by another rank in this run
    return outcomes


#: Where a user sets each family's grid (named in the grid-edge warning).
_GRID_FLAGS = {"logistic": ("--C-grid", "C_grid"), "ridge": ("--alpha-grid", "alpha_grid"),
               "meandiff": ("--shrinkage-grid", "shrinkage_grid")}


def _check_grid_edge(probe: str, row: dict, rows: list[dict], metric: str) -> str | None:
    """Warn when the value chosen on validation sits at an edge of its grid that binds (see ``grid_edge``)."""
    edge = selection.grid_edge(rows, row, metric)
    if probe == "meandiff" and row["value"] in (0.0, 1.0):
        edge = None  # shrinkage cannot go beyond [0, 1]
    if edge:
        grid = sorted({r["value"] for r in rows})
        flag, field = _GRID_FLAGS.get(probe, (None, None))
        how = f"CLI {flag}, Python SweepConfig({field}=...)" if flag else f"SweepConfig(grids={{{probe!r}: ...}})"
        warnings.warn(
            f"{probe}: {row['param']}={row['value']:g} chosen on validation is the {edge} value of its grid "
            f"({', '.join(f'{v:g}' for v in grid)}) and beats its neighbour there: the optimum may lie beyond "
            f"the grid. Extend it ({how}) and rerun.", RuntimeWarning, stacklevel=3)
    return edge


def _gather(store: Store, cfg: SweepConfig, ctx: JobContext, layers: list[str], probe_names: dict[str, list[str]],
            jobs: list[Job], outcomes: dict[int, dict]) -> SweepResult:
    """Choose among layers on validation rows, then assemble the result with baselines and provenance."""
    feats, y_tr, y_va = ctx.feats, ctx.y_tr, ctx.y_va
    order = {(p, n): (pi, li) for pi, p in enumerate(cfg.probes) for li, n in enumerate(probe_names[p])}
    # Stable sorts: probe, then layer, in the config's order; grid points stay in grid order.
    grid_rows = sorted((r for j in jobs for r in outcomes[j.index]["rows"]),
                       key=lambda r: order[(r["probe"], r["layer"])])
    per_layer = sorted((e for j in jobs for e in outcomes[j.index]["per_layer"]),
                       key=lambda e: order[(e["probe"], e["layer"])])
    test_probs = {(j.probe, name): p for j in jobs for name, p in outcomes[j.index]["test_probs"].items()}
    timing: dict[str, float] = {"jobs": len(jobs),
                                "jobs_reused": sum(bool(outcomes[j.index].get("reused")) for j in jobs)}
    for j in jobs:
        key = f"{j.probe}_fit_seconds"
        timing[key] = round(timing.get(key, 0.0) + outcomes[j.index]["fit_seconds"], 4)

    # Selection across layers sees validation rows only.
    y_te = feats.labels("test")
    selected = {}
    for probe in cfg.probes:
        row = selection.select_on_val([r for r in grid_rows if r["probe"] == probe and "+" not in r["layer"]],
                                      cfg.select)
        chosen = next(p for p in per_layer if p["probe"] == probe and p["layer"] == row["layer"])
        edge = _check_grid_edge(probe, row, [r for r in grid_rows if r["probe"] == probe], cfg.select)
        selected[probe] = {"layer": row["layer"], "param": row["param"], "value": row["value"],
                           "select_metric": cfg.select, "val": row["val"], "test": chosen["test"],
                           "control": chosen.get("control"), "selectivity": chosen.get("selectivity"),
                           "refit": cfg.refit, "grid_edge": edge,
                           "test_predictions": {"y": y_te.tolist(), "probs": test_probs[(probe, row["layer"])]}}
    m = store.manifest
    provenance = {
        "path": str(store.root), "model": m["identity"]["source"].get("model"),
        "model_fingerprint": m["identity"]["source"].get("fingerprint"),
        "dataset": m["dataset"]["name"], "dataset_fingerprint": m["identity"]["dataset_fingerprint"],
        "pooling": store.pooling, "classes": ctx.classes,
        "split_sizes": {"train": len(y_tr), "val": len(y_va), "test": len(y_te)}, "level": cfg.level,
        "split_seed": m["dataset"].get("split_seed", m["dataset"].get("task_seed")),
    }
    baselines, geometry = {}, []
    if cfg.baselines:
        baselines["majority"] = _baseline_dict(majority_baseline(y_tr, y_te, n_boot=cfg.n_boot, seed=cfg.seed))
        for lay in sorted({sel["layer"] for sel in selected.values()}) if not feats.stream else ():
            baselines[f"random_direction@{lay}"] = _baseline_dict(random_direction_baseline(
                feats.get(lay, "train").double().numpy(), y_tr, feats.get(lay, "test").double().numpy(), y_te,
                seed=cfg.seed, n_boot=cfg.n_boot))
        texts = store.texts("train") if cfg.level == "example" else None
        if texts is not None:
            baselines["tfidf"] = _baseline_dict(tfidf_baseline(
                texts, y_tr, store.texts("val"), y_va, store.texts("test"), y_te, n_boot=cfg.n_boot, seed=cfg.seed))
        if not feats.stream:
            geometry = [layer_geometry(feats.get(n, "train").double().numpy(), y_tr, layer=n).to_dict()
                        for n in layers]
    return SweepResult(grid_rows, per_layer, selected, provenance, asdict(cfg), timing, baselines=baselines,
                       geometry=geometry)


def _baseline_dict(b) -> dict:
    return {"name": b.name, "test": {m: e.to_dict() for m, e in b.metrics.items()}, "chosen": b.chosen,
            "n_test": b.n_test}
