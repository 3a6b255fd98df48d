"""`SweepResult`: every grid point's validation metrics, the selection, test metrics, and provenance.

Example:
    >>> # result = probewise.sweep(store); result.save("runs/demo/results")  # .json + .csv (+ .parquet)
    >>> # result = SweepResult.load("runs/demo/results.json")
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from probewise._version import __version__
from probewise.errors import ProbewiseError

FORMAT = "probewise-results"
SCHEMA_VERSION = 1


@dataclass
class SweepResult:
    """Attributes:
    grid: one row per (probe, layer, value): train/val metrics. Never test metrics.
    per_layer: one row per (probe, layer): the value chosen on val for that layer, with its test metrics
        (the layer curve). Test numbers here are reported, never used to choose.
    selected: probe → the (layer, value) chosen on val over all layers, with test metrics ± CI.
    store: provenance of the data (path, model, fingerprints, split sizes, classes).
    config: the sweep config that made this result (seed included).
    baselines: majority class and random-direction test metrics, next to the probes'.
    geometry: per layer: mean activation norm, effective rank, cosine between class means (train split).
    """

    grid: list[dict]
    per_layer: list[dict]
    selected: dict[str, dict]
    store: dict
    config: dict
    timing: dict = field(default_factory=dict)
    probewise_version: str = __version__
    baselines: dict = field(default_factory=dict)
    geometry: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"format": FORMAT, "schema_version": SCHEMA_VERSION, "probewise_version": self.probewise_version,
                "store": self.store, "config": self.config, "selected": self.selected,
                "per_layer": self.per_layer, "grid": self.grid, "timing": self.timing,
                "baselines": self.baselines, "geometry": self.geometry}

    def save(self, path: str | Path, formats: tuple[str, ...] = ("json", "csv")) -> list[Path]:
        """Write `path.json` (everything), `path.csv` / `path.parquet` (the grid table). Returns the paths."""
        path = Path(path)
        if path.suffix in (".json", ".csv", ".parquet"):
            path = path.with_suffix("")
        path.parent.mkdir(parents=True, exist_ok=True)
        written = []
        if "json" in formats:
            p = path.with_suffix(".json")
            p.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
            written.append(p)
        rows = self.flat_rows()
        if "csv" in formats:
            p = path.with_suffix(".csv")
            keys = list(dict.fromkeys(k for r in rows for k in r))
            with p.open("w", newline="") as f:
                w = csv.DictWriter(f, keys)
                w.writeheader()
                w.writerows(rows)
            written.append(p)
        if "parquet" in formats:
            import pyarrow as pa
            import pyarrow.parquet as pq

            p = path.with_suffix(".parquet")
            pq.write_table(pa.Table.from_pylist(rows), p)
            written.append(p)
        return written

    def flat_rows(self) -> list[dict]:
        """One flat row per grid point (the CSV / Parquet table; ``pandas.DataFrame(result.flat_rows())``).

        Columns: dataset, model, seed, split sizes, probe, layer, param, value, ``train_accuracy``, ``val_<metric>``;
        ``chosen_for_layer`` (the value chosen on validation at that layer) and ``selected`` (the probe's choice over
        all layers) as booleans; on chosen rows the test metrics with their interval (``test_<metric>``,
        ``test_<metric>_low``/``_high``), ``control_accuracy`` and ``selectivity``; empty elsewhere (test is
        scored only for what validation chose).

        Example:
            >>> # import pandas as pd; df = pd.DataFrame(result.flat_rows()); df[df.selected]
        """
        sizes = self.store.get("split_sizes") or {}
        common = {"dataset": self.store.get("dataset"), "model": self.store.get("model"),
                  "seed": self.config.get("seed"), "n_train": sizes.get("train"), "n_val": sizes.get("val"),
                  "n_test": sizes.get("test")}
        chosen = {(e["probe"], e["layer"]): e for e in self.per_layer}
        out = []
        for r in self.grid:
            e = chosen.get((r["probe"], r["layer"]))
            is_chosen = e is not None and e["value"] == r["value"]
            sel = self.selected.get(r["probe"]) or {}
            row = {**common, "probe": r["probe"], "layer": r["layer"], "param": r["param"], "value": r["value"],
                   **{f"train_{k}": v for k, v in (r.get("train") or {}).items()},
                   **{f"val_{k}": v for k, v in (r.get("val") or {}).items()},
                   "chosen_for_layer": is_chosen,
                   "selected": sel.get("layer") == r["layer"] and sel.get("value") == r["value"]}
            for m, est in ((e or {}).get("test") or {}).items():
                est = est if is_chosen and isinstance(est, dict) else {}
                row[f"test_{m}"], row[f"test_{m}_low"], row[f"test_{m}_high"] = (
                    est.get("value"), est.get("low"), est.get("high"))
            if e is not None and "control" in e:
                row["control_accuracy"] = (e["control"] or {}).get("accuracy") if is_chosen else None
                row["selectivity"] = e.get("selectivity") if is_chosen else None
            out.append(row)
        keys = list(dict.fromkeys(k for r in out for k in r))  # every row gets every column
        return [{k: r.get(k) for k in keys} for r in out]

    @classmethod
    def load(cls, path: str | Path) -> SweepResult:
        path = Path(path)
        try:
            d = json.loads(path.read_text())
        except FileNotFoundError as e:
            raise ProbewiseError(f"results file {path} does not exist.") from e
        except json.JSONDecodeError as e:
            raise ProbewiseError(f"{path} is not valid JSON ({e}).") from e
        if d.get("format") != FORMAT:
            raise ProbewiseError(f"{path} is not a probewise results file.")
        if d.get("schema_version") != SCHEMA_VERSION:
            raise ProbewiseError(
                f"{path} has results schema {d.get('schema_version')}; this probewise ({__version__}) reads "
                f"schema {SCHEMA_VERSION}. Re-run the sweep with this version."
            )
        return cls(d["grid"], d["per_layer"], d["selected"], d["store"], d["config"], d.get("timing", {}),
                   d.get("probewise_version", "?"), d.get("baselines", {}), d.get("geometry", []))

    def table(self, metric: str = "accuracy") -> str:
        """A plain-text layer table per probe: val and test `metric`, the selected layer marked.

        When a probe was selected on another validation metric, that metric gets a column too.
        """
        lines = []
        w = max([6, *(len(str(r["layer"])) for r in self.per_layer)])  # long layer names ("encoder.layer.11")
        for probe, sel in self.selected.items():
            chosen_by = sel.get("select_metric", metric)
            extra = chosen_by if chosen_by != metric else None
            lines.append(f"{self.store.get('dataset')} · {probe} (selected on val: layer {sel['layer']}, "
                         f"{sel['param']}={sel['value']:g})")
            head = f"  {'layer':>{w}} {sel['param']:>9}"
            if extra:
                head += f" {'val ' + extra:>14}"
            lines.append(f"{head} {'val ' + metric:>14} {'test ' + metric:>23} {'selectivity':>12}")
            for r in self.per_layer:
                if r["probe"] != probe:
                    continue
                t = r["test"][metric]
                mark = "  ←" if r["layer"] == sel["layer"] else ""
                selectivity = f"{r['selectivity']:>12.3f}" if r.get("selectivity") is not None else f"{'':>12}"
                row = f"  {r['layer']:>{w}} {r['value']:>9.3g}"
                if extra:
                    row += f" {r['val'][extra]:>14.3f}"
                if t["value"] is None:  # undefined on this test split (see `score_on_test`)
                    shown = f"{'n/a':>23}"
                elif t["low"] is None:
                    shown = f"{t['value']:>8.3f} {'[n/a]':<14}"
                else:
                    shown = f"{t['value']:>8.3f} [{t['low']:.3f}, {t['high']:.3f}]"
                lines.append(f"{row} {r['val'][metric]:>14.3f} {shown} {selectivity}{mark}")
        return "\n".join(lines)
