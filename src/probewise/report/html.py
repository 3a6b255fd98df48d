"""One self-contained HTML report of sweep results: tables, inline SVG plots and provenance, no network needed.

Plots are inline SVG and tables plain HTML, so the page reads the same without JavaScript; a few lines of
inline script only make table columns sortable by a click.

Example:
    >>> from probewise.report.html import fmt_estimate
    >>> fmt_estimate({"value": 0.9, "low": 0.85, "high": 0.95})
    '0.900 [0.850, 0.950]'
    >>> # write_report([SweepResult.load("runs/negation.json")], "report.html", title="MiniLM probes")
"""

from __future__ import annotations

import html
import json
import math
import platform
from collections.abc import Sequence
from pathlib import Path

from probewise._version import __version__
from probewise.errors import ConfigError, DataError
from probewise.report.compare import Leaderboard, leaderboard, metric_value, model_labels, pick_probe
from probewise.report.figures import control_value, result_slugs, svg_markup, task_figures
from probewise.sweeps.results import SweepResult

__all__ = ["fmt_estimate", "render_report", "write_leaderboard", "write_report"]

_CSS = """
:root{--fg:#1d232b;--muted:#5d6773;--line:#e2e6eb;--soft:#f5f7f9;--accent:#1f5fa8}
*{box-sizing:border-box}
body{margin:0;color:var(--fg);background:#fff;
 font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Liberation Sans",sans-serif}
main{max-width:1180px;margin:0 auto;padding:28px 32px 64px}
h1{font-size:27px;margin:0 0 4px;letter-spacing:-.01em}
h2{font-size:20px;margin:44px 0 6px;padding-bottom:6px;border-bottom:1px solid var(--line)}
h3{font-size:16px;margin:22px 0 6px}
h2 small{font-size:15px;font-weight:500;color:var(--muted)}
.sub,.meta{color:var(--muted);margin:0 0 10px}
.meta b{color:var(--fg);font-weight:600}
nav{margin:14px 0 0;font-size:14px;line-height:1.9}
nav a{color:var(--accent);text-decoration:none;margin-right:14px;white-space:nowrap}
nav a:hover{text-decoration:underline}
.wrap{overflow-x:auto}
table{border-collapse:collapse;font-size:13.5px;margin:8px 0 14px}
th,td{padding:5px 9px;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap}
thead th{background:var(--soft);font-weight:600;border-bottom:1px solid #cfd5dc}
.sortable thead th{cursor:pointer}
th[aria-sort=ascending]::after{content:" \\25B2";font-size:9px}
th[aria-sort=descending]::after{content:" \\25BC";font-size:9px}
.num{text-align:right;font-variant-numeric:tabular-nums}
tbody tr:hover{background:#f1f6fc}
tr.picked td:first-child{box-shadow:inset 3px 0 0 var(--accent)}
caption{caption-side:bottom;text-align:left;color:var(--muted);font-size:12.5px;padding-top:6px;white-space:normal}
.pm{color:var(--muted);font-size:.92em}
.kv th{background:none;color:var(--muted);font-weight:500;border-bottom:1px solid var(--line)}
.kv td{white-space:normal;overflow-wrap:anywhere}
.brk{white-space:normal;overflow-wrap:anywhere}
.leaderboard .pm{display:block;font-size:.8em;line-height:1.2}
.figs{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:14px;margin:12px 0}
figure{margin:0;border:1px solid var(--line);border-radius:8px;padding:10px 10px 8px;background:#fff}
figure.wide{margin:12px 0}
figure svg{display:block;width:100%;height:auto}
figure.wide svg{max-width:960px}
figcaption{font-size:12.5px;color:var(--muted);margin-top:6px}
details{margin:6px 0 10px}
summary{cursor:pointer;color:var(--accent);font-size:14px}
pre{background:var(--soft);padding:12px 14px;border-radius:6px;overflow:auto;font-size:12.5px;line-height:1.45}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:.92em}
.note{background:#fff7e6;border:1px solid #efd7a6;padding:8px 12px;border-radius:6px;font-size:14px}
.chip{display:inline-block;background:var(--soft);border:1px solid var(--line);border-radius:6px;padding:3px 9px}
footer{margin-top:48px;color:var(--muted);font-size:12.5px}
"""

_JS = """
(function () {
  function key(cell) {
    var s = cell ? cell.getAttribute('data-sort') : null;
    if (s === null) { s = cell ? cell.textContent.trim() : ''; }
    var n = parseFloat(s);
    return isNaN(n) ? s.toLowerCase() : n;
  }
  var tables = document.querySelectorAll('table.sortable');
  Array.prototype.forEach.call(tables, function (table) {
    var heads = table.querySelectorAll('thead th');
    Array.prototype.forEach.call(heads, function (th, i) {
      th.addEventListener('click', function () {
        var body = table.tBodies[0];
        if (!body) { return; }
        var asc = th.getAttribute('aria-sort') !== 'ascending';
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[i]), y = key(b.cells[i]);
          if (typeof x !== typeof y) { x = String(x); y = String(y); }
          return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
})();
"""

_e = html.escape


def fmt_estimate(e: object, digits: int = 3) -> str:
    """``value [low, high]`` of an estimate dict (just the value without an interval; ``—`` if absent)."""
    v = metric_value(e)
    if v is None:
        return "—"
    lo, hi = (metric_value(e.get(k)) if isinstance(e, dict) else None for k in ("low", "high"))
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return f"{v:.{digits}f}"
    return f"{v:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def _ci(e: object, digits: int = 3) -> tuple[str, None]:
    """(``[low, high]`` or ``—``, no sort key) of an estimate dict."""
    lo, hi = (metric_value(e.get(k)) if isinstance(e, dict) else None for k in ("low", "high"))
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return "—", None
    return f"[{lo:.{digits}f}, {hi:.{digits}f}]", None


def _hp(row: dict) -> tuple[str, str | None]:
    """(``param=value``, sort key) of a selected or per-layer row."""
    v = row.get("value")
    if not isinstance(v, int | float):
        return _e(f"{row.get('param')}={v}"), None
    return _e(f"{row.get('param')}={v:g}"), repr(v)


def _num(x: float | None, digits: int = 3) -> tuple[str, str]:
    """(cell text, sort key) of a number."""
    if x is None or not math.isfinite(x):
        return "—", ""
    return f"{x:.{digits}f}", repr(x)


def _table(head: Sequence[str], rows: Sequence[Sequence[tuple[str, str | None]]], *, cls: str = "sortable",
           numeric: Sequence[bool] = (), caption: str = "", row_cls: Sequence[str] = ()) -> str:
    """An HTML table; cells are (escaped html, sort key or None); `numeric` right-aligns columns."""
    num = (list(numeric) + [False] * len(head))[: len(head)]
    out = [f'<div class="wrap"><table class="{cls}">']
    if caption:
        out.append(f"<caption>{caption}</caption>")
    out.append("<thead><tr>" + "".join(f'<th{" class=num" if n else ""}>{_e(h)}</th>'
                                        for h, n in zip(head, num, strict=True)) + "</tr></thead><tbody>")
    for i, row in enumerate(rows):
        rc = row_cls[i] if i < len(row_cls) and row_cls[i] else ""
        out.append(f'<tr class="{rc}">' if rc else "<tr>")
        for (text, key), n in zip(row, num, strict=True):
            attrs = (" class=num" if n else "") + (f' data-sort="{_e(key)}"' if key is not None else "")
            out.append(f"<td{attrs}>{text}</td>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _extra(result: SweepResult, probe: str, key: str) -> object:
    """`key` of the selected row, else of the per-layer row of the selected layer (params, train_seconds, ...)."""
    sel = result.selected[probe]
    if key in sel:
        return sel[key]
    row = next((r for r in result.per_layer if r.get("probe") == probe and r.get("layer") == sel.get("layer")), {})
    return row.get(key)


def _selectivity(result: SweepResult, probe: str, metric: str) -> float | None:
    sel = result.selected[probe]
    ctrl = control_value(sel, metric)
    if ctrl is None:
        ctrl = control_value({"control": _extra(result, probe, "control")}, metric)
    test = metric_value(sel.get("test", {}).get(metric))
    return None if ctrl is None or test is None else test - ctrl


def _summary(results: Sequence[SweepResult], labels: list[str], slugs: list[str], metric: str) -> str:
    many = len(set(labels)) > 1
    sms = {sel.get("select_metric", "accuracy") for r in results for sel in r.selected.values()}
    rows, cls = [], []
    for res, label, slug in zip(results, labels, slugs, strict=True):
        picked = pick_probe(res)
        for probe, sel in res.selected.items():
            test = sel.get("test", {}).get(metric)
            params, secs = _extra(res, probe, "params"), metric_value(_extra(res, probe, "train_seconds"))
            rows.append([(f'<a href="#{_e(slug)}">{_e(str(res.store.get("dataset")))}</a>', None)]
                        + ([(_e(label), None)] if many else [])
                        + [(_e(probe) + (" ●" if probe == picked and len(res.selected) > 1 else ""), None),
                           (_e(str(sel.get("layer"))), None), _hp(sel),
                           _num(metric_value(sel.get("val", {}).get(sel.get("select_metric", "accuracy")))),
                           (_e(fmt_estimate(test)), repr(metric_value(test))),
                           _num(_selectivity(res, probe, metric)),
                           (_e(f"{params:,}") if isinstance(params, int) else _e(str(params or "—")), repr(params)),
                           _num(secs, 2), _num(metric_value(res.timing.get(f"{probe}_fit_seconds")), 2)])
            cls.append("picked" if probe == picked else "")
    head = ["task", *(["model"] if many else []), "probe", "layer", "chosen hyperparam",
            f"val {sms.pop()}" if len(sms) == 1 else "val (select metric)", f"test {metric} [95% CI]",
            "selectivity", "params", "train s", "grid fit s"]
    # Leave out optional columns no result fills (and the whole-grid fit time when per-probe times exist).
    filled = {h: any(r[i][0] != "—" for r in rows) for i, h in enumerate(head)}
    drop = {h for h in ("selectivity", "params", "train s", "grid fit s") if not filled[h]}
    if filled["train s"]:
        drop.add("grid fit s")
    keep = [i for i, h in enumerate(head) if h not in drop]
    head = [head[i] for i in keep]
    rows = [[r[i] for i in keep] for r in rows]
    numeric = [h not in ("task", "model", "probe") for h in head]
    cap = (f"Per task and probe family: layer and hyperparameter chosen on validation, then scored once on test "
           f"({metric}, 95% CI: Wilson's interval for accuracy, percentile bootstrap otherwise). "
           + ("Selectivity: test minus control-task (permuted labels) score at that layer. "
              if "selectivity" in head else "")
           + ("Grid fit s: seconds to fit the probe's whole grid on every layer. " if "grid fit s" in head else "")
           + "● / left bar: the family best on validation, shown in the calibration and ROC plots.")
    return _table(head, rows, numeric=numeric, caption=cap, row_cls=cls)


def _layer_table(result: SweepResult, metric: str) -> str:
    rows = []
    for r in result.per_layer:
        test = r.get("test", {}).get(metric)
        ctrl = control_value(r, metric)
        sel = result.selected.get(r.get("probe"), {})
        star = " ★" if sel.get("layer") == r.get("layer") else ""
        rows.append([(_e(str(r.get("probe"))), None), (_e(str(r.get("layer"))) + star, None),
                     _hp(r),
                     _num(metric_value(r.get("train", {}).get("accuracy"))),
                     _num(metric_value(r.get("val", {}).get(metric))), _num(metric_value(test)),
                     _ci(test), _num(ctrl),
                     _num(None if ctrl is None or metric_value(test) is None else metric_value(test) - ctrl)])
    head = ["probe", "layer", "chosen on val", "train accuracy", f"val {metric}", f"test {metric}", "95% CI",
            "control", "selectivity"]
    if not any(r[7][0] != "—" for r in rows):
        head, rows = head[:7], [r[:7] for r in rows]
    return _table(head, rows, numeric=[False, False, True, True, True, True, False, True, True],
                  caption="★: layer chosen on validation. Test numbers are reported per layer, never used to choose.")


def _baselines_table(result: SweepResult, metric: str) -> str:
    base = getattr(result, "baselines", None) or {}
    rows = [[(_e(str(name)), None), (_e(fmt_estimate((b.get("test") or {}).get(metric))),
                                     repr(metric_value((b.get("test") or {}).get(metric)))),
             (_e(_chosen_text(b.get("chosen"), result.store.get("classes"))), None)]
            for name, b in base.items() if isinstance(b, dict)]
    if not rows:
        return ""
    return "<h3>Baselines on test</h3>" + _table(
        ["baseline", f"test {metric} [95% CI]", "chosen"], rows, numeric=[False, True, False],
        caption="What every probe should beat: the majority class of train, and a one-dimensional probe on a "
                "random direction (@ its layer).")


def _chosen_text(chosen: object, classes: object) -> str:
    """What a baseline chose, in words: ``class neg`` (not its index), ``C = 1``, ``seed 0``.

    Example:
        >>> _chosen_text({"class": 1}, ["neg", "pos"]), _chosen_text({"C": 1.0}, None), _chosen_text({}, None)
        ('class pos', 'C = 1', '—')
    """
    if not isinstance(chosen, dict) or not chosen:
        return "—" if not chosen else str(chosen)
    names = list(classes) if isinstance(classes, list | tuple) else []
    parts = []
    for key, value in chosen.items():
        if key == "class" and isinstance(value, int) and 0 <= value < len(names):
            parts.append(f"class {names[value]}")
        elif key == "seed":
            parts.append(f"seed {value}")
        else:
            parts.append(f"{key} = {value:g}" if isinstance(value, float) else f"{key} = {value}")
    return ", ".join(parts)


def _geometry_table(result: SweepResult) -> str:
    geo = [g for g in (getattr(result, "geometry", None) or []) if isinstance(g, dict)]
    keys = [k for k in dict.fromkeys(k for g in geo for k in g)
            if all(isinstance(g.get(k), str | int | float | type(None)) for g in geo)]
    if not geo or not keys:
        return ""
    rows = [[(_e(str(g.get(k))), None) if k == "layer" or not isinstance(g.get(k), float) else _num(g[k])
             for k in keys] for g in geo]
    return ("<details><summary>representation geometry per layer (train split)</summary>"
            + _table([k.replace("_", " ") for k in keys], rows, numeric=[k != "layer" for k in keys]) + "</details>")


def _figure(svg: str, caption: str, wide: bool = False) -> str:
    return f'<figure{" class=wide" if wide else ""}>{svg}<figcaption>{caption}</figcaption></figure>'


def _task_section(res: SweepResult, label: str, slug: str, metric: str, many: bool = False) -> str:
    st = res.store
    p = pick_probe(res)
    sel = res.selected[p]
    sizes = st.get("split_sizes") or {}
    figs = task_figures(res, metric)
    svg = {k: svg_markup(f, f"{slug}-{k}", f"{k} plot of {st.get('dataset')}") for k, f in figs.items()}
    k = len(st.get("classes") or [])
    pos = (st.get("classes") or ["", ""])[-1]
    ctext = {
        "reliability": "Reliability of the top-label confidence on test (bars: fraction correct per confidence bin; "
                       "below: examples per bin).",
        "roc": (f"ROC on test, positive class <code>{_e(str(pos))}</code>" if k == 2 else
                "ROC on test, micro-averaged over one-vs-rest problems") +
               "; log-scale FPR shows the low-false-positive region (grey: below one negative).",
        "confusion": "Confusion matrix on test: rows true class, numbers counts, colour the fraction of the row.",
        "few_shot": f"Data efficiency: test {metric} vs training set size, band 95% CI.",
    }
    out = [f'<section id="{_e(slug)}"><h2>{_e(str(st.get("dataset")))}'
           f'{f" <small>· {_e(label)}</small>" if many else ""}</h2>',
           f'<p class="meta"><b>{_e(label)}</b> · pooling {_e(str(st.get("pooling")))} · '
           f"train/val/test {sizes.get('train', '?')}/{sizes.get('val', '?')}/{sizes.get('test', '?')} · "
           f"classes {_e(', '.join(map(str, st.get('classes') or [])))}</p>",
           f'<p><span class="chip">chosen on validation: <b>{_e(p)}</b>, layer <b>{_e(str(sel.get("layer")))}</b>, '
           f"{_hp(sel)[0]} → test {_e(metric)} "
           f"<b>{_e(fmt_estimate(sel.get('test', {}).get(metric)))}</b></span></p>"]
    if "layers" in svg:
        base = getattr(res, "baselines", None) or {}
        cap = (f"Test {_e(metric)} per layer, one colour per probe family (band: 95% bootstrap CI); dashed: "
               "validation; " + ("dotted: control task (permuted labels); " if any(
                   control_value(r, metric) is not None for r in res.per_layer) else "")
               + "star: layer chosen on validation; " + ("dash-dot: majority class; " if "majority" in base else "")
               + ("✖: random-direction probe; " if any(str(k).startswith("random_direction") for k in base) else "")
               + "grey: chance.")
        out.append(_figure(svg["layers"], cap, wide=True))
    small = [_figure(svg[k], ctext[k]) for k in ("reliability", "roc", "confusion", "few_shot") if k in svg]
    if small:
        out.append(f'<h3>Selected probe on test: {_e(p)}, layer {_e(str(sel.get("layer")))}</h3>')
        out.append('<div class="figs">' + "".join(small) + "</div>")
    out.append(_baselines_table(res, metric))
    out.append(f"<details><summary>per-layer table</summary>{_layer_table(res, metric)}</details>")
    out.append(_geometry_table(res) + "</section>")
    return "".join(out)


def _brk(text: str) -> str:
    """Escaped text; long unbroken values (fingerprints, paths) may wrap anywhere, short ones stay whole."""
    return f'<span class="brk">{_e(text)}</span>' if len(text) > 24 else _e(text)


def _kv(pairs: Sequence[tuple[str, object]]) -> str:
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(_show(v))}</td></tr>" for k, v in pairs)
    return f'<div class="wrap"><table class="kv"><tbody>{rows}</tbody></table></div>'


def _show(v: object) -> str:
    return v if isinstance(v, str) else json.dumps(v)


def _facts(res: SweepResult) -> dict[str, object]:
    st, cfg = res.store, res.config
    return {"task": str(st.get("dataset")), "model": str(st.get("model")),
            "model fingerprint": str(st.get("model_fingerprint")), "pooling": str(st.get("pooling")),
            "dataset fingerprint": str(st.get("dataset_fingerprint")), "classes": st.get("classes"),
            "split sizes": st.get("split_sizes"), "split seed": st.get("split_seed"), "sweep seed": cfg.get("seed"),
            "probes": cfg.get("probes"), "selection metric": cfg.get("select"), "refit on train+val": cfg.get("refit"),
            "engine": cfg.get("engine"), "bootstrap resamples": cfg.get("n_boot"),
            "probewise version (sweep)": str(res.probewise_version), "store": str(st.get("path"))}


def _dist_version(name: str) -> str:
    """The installed version of a distribution, without importing it ("not installed" when absent)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def _provenance(results: Sequence[SweepResult], labels: list[str], slugs: list[str]) -> str:
    import matplotlib
    import numpy

    facts = [_facts(r) for r in results]
    common = [k for k in facts[0] if all(_show(f[k]) == _show(facts[0][k]) for f in facts)]
    varying = [k for k in facts[0] if k not in common]
    out = ['<section id="provenance"><h2>Provenance and environment</h2>',
           '<p class="sub">What made these results: data, model, sweep config and versions.</p>',
           f"<h3>Shared by all {len(results)} result{'s' * (len(results) != 1)}</h3>",
           _kv([(k, facts[0][k]) for k in common])]
    if varying:
        rows = [[(_brk(_show(f[k])), None) for k in varying] for f in facts]
        out += ["<h3>Per result</h3>", _table(varying, rows, cls="sortable prov")]
    out.append("<details><summary>full sweep configs, store provenance and timings (JSON)</summary>")
    for res, label in zip(results, labels, strict=True):
        blob = {"config": res.config, "store": res.store, "timing": res.timing,
                "probewise_version": res.probewise_version}
        out.append(f"<h3>{_e(str(res.store.get('dataset')))} · {_e(label)}</h3>"
                   f"<pre><code>{_e(json.dumps(blob, indent=2))}</code></pre>")
    out.append("</details><h3>Report environment</h3>")
    out.append(_kv([("probewise (report)", __version__), ("python", platform.python_version()),
                    ("numpy", numpy.__version__), ("matplotlib", matplotlib.__version__),
                    *((name, _dist_version(name)) for name in ("torch", "transformers", "scikit-learn")),
                    ("platform", platform.platform())]))
    out.append("</section>")
    return "".join(out)


def _leaderboard_section(results: Sequence[SweepResult], metric: str) -> str:
    try:
        lb = leaderboard(list(results), metric, allow_mixed=True)
    except DataError as e:
        return f'<section id="leaderboard"><h2>Leaderboard</h2><p class="note">{_e(str(e))}</p></section>'
    note = ""
    if lb.mixed:
        note = (f'<p class="note">Tasks {_e(", ".join(lb.mixed))} come from different datasets across models '
                "(different dataset fingerprints): their scores are not comparable.</p>")
    return (f'<section id="leaderboard"><h2>Leaderboard: models × tasks</h2>{note}'
            f'<div class="wrap">{lb.to_html()}</div></section>')


def _page(title: str, body: Sequence[str]) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{_CSS}</style></head>\n<body><main>\n"
            + "\n".join(body) + f"\n</main><script>{_JS}</script></body></html>\n")


def render_report(results: Sequence[SweepResult], *, title: str | None = None, metric: str = "accuracy") -> str:
    """The report as one HTML string (see `write_report`)."""
    results = list(results)
    if not results:
        raise DataError("no results to report; give at least one probewise results file.")
    for res in results:
        for probe, sel in res.selected.items():
            if metric not in sel.get("test", {}):
                raise ConfigError(f"metric {metric!r} is not in the test results of {res.store.get('dataset')!r} "
                                  f"({probe}); available: {', '.join(sel.get('test', {}))}.")
    tasks = list(dict.fromkeys(str(r.store.get("dataset")) for r in results))
    results.sort(key=lambda r: tasks.index(str(r.store.get("dataset"))))  # stable: each task's models together
    labels, slugs = model_labels(results), result_slugs(results)
    models = list(dict.fromkeys(labels))
    title = title or (f"Probing report: {models[0]}" if len(models) == 1 else "Probing report")
    first = {}
    for r, slug in zip(results, slugs, strict=True):
        first.setdefault(str(r.store.get("dataset")), slug)
    nav = ['<a href="#summary">Summary</a>'] + (['<a href="#leaderboard">Leaderboard</a>'] if len(models) > 1 else [])
    nav += [f'<a href="#{_e(slug)}">{_e(t)}</a>' for t, slug in first.items()]
    nav.append('<a href="#provenance">Provenance</a>')
    body = [f"<header><h1>{_e(title)}</h1>",
            f'<p class="sub">{len(tasks)} task{"s" * (len(tasks) != 1)} · {len(models)} model'
            f'{"s" * (len(models) != 1)} · test {_e(metric)} with 95% bootstrap intervals · everything chosen on '
            f"validation</p><nav>{' '.join(nav)}</nav></header>",
            '<section id="summary"><h2>Summary</h2>', _summary(results, labels, slugs, metric), "</section>"]
    if len(models) > 1:
        body.append(_leaderboard_section(results, metric))
    body += [_task_section(r, m, s, metric, len(models) > 1) for r, m, s in zip(results, labels, slugs, strict=True)]
    body.append(_provenance(results, labels, slugs))
    body.append(f"<footer>Made with probewise {_e(__version__)}. Self-contained: no network access, "
                "plots are inline SVG, tables read without JavaScript.</footer>")
    return _page(title, body)


def write_report(results: Sequence[SweepResult], path: str | Path, *, title: str | None = None,
                 metric: str = "accuracy") -> Path:
    """Write one self-contained HTML report of `results` to `path` and return it.

    Per task: metric-vs-layer curves (one line per probe family, test CI band, val line, control line when
    present, the layer chosen on val starred), reliability diagram and ROC (log-scale FPR) of the probe family
    best on val, confusion matrix, few-shot curves (when present) and a per-layer table. Plus a
    task × probe summary table, a models × tasks leaderboard (several models), and the full config and
    provenance (model and dataset fingerprints, versions, seeds, split sizes).

    Raises:
        DataError: no results. ConfigError: `metric` missing from the test results.
    """
    text = render_report(results, title=title, metric=metric)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_leaderboard(lb: Leaderboard, results: Sequence[SweepResult], path: str | Path, *,
                      title: str | None = None) -> Path:
    """Write a models × tasks leaderboard page (table, its Markdown and LaTeX, the results' provenance)."""
    title = title or f"Leaderboard: test {lb.metric}"
    rows = [[(_e(m), None), (_e(str(r.store.get("dataset"))), None),
             (_brk(str(r.store.get("model_fingerprint"))), None), (_brk(str(r.store.get("dataset_fingerprint"))), None),
             (_e(str(r.probewise_version)), None)]
            for r, m in zip(results, model_labels(list(results)), strict=True)]
    body = [f"<header><h1>{_e(title)}</h1><p class=\"sub\">{len(lb.models)} models · {len(lb.tasks)} tasks</p>"
            "</header>", f'<section id="leaderboard"><div class="wrap">{lb.to_html()}</div>',
            f"<details><summary>Markdown</summary><pre><code>{_e(lb.to_markdown())}</code></pre></details>",
            f"<details><summary>LaTeX (booktabs)</summary><pre><code>{_e(lb.to_latex())}</code></pre></details>",
            "</section>", '<section id="provenance"><h2>Results compared</h2>',
            _table(["model", "task", "model fingerprint", "dataset fingerprint", "probewise"], rows,
                   cls="sortable prov"), "</section>",
            f"<footer>Made with probewise {_e(__version__)}.</footer>"]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_page(title, body), encoding="utf-8")
    return path
