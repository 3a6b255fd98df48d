"""The demo's report checked as a person would: opened in a real headless Chromium.

No console errors, the plots drew (a screenshot that is not blank, inline SVGs with paths in the rendered DOM),
the tables are there and sort on a click. Needs `/usr/bin/chromium` (Debian package `chromium`); skipped without.
"""

from __future__ import annotations

import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import HANG_GUARD_S

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="needs /usr/bin/chromium (apt-get install chromium); runs in CI")

# The background-networking flags keep Chromium off the network (a closed network refuses its connections).
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         "--enable-logging=stderr", "--v=0"]


def chromium(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=workdir)
    proc = subprocess.run([str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                          text=True, timeout=HANG_GUARD_S)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def console_messages(stderr: str) -> list[str]:
    """Every console message (errors, warnings, logs) and uncaught exception Chromium logged; the report has none."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory) -> Path:
    """The demo pipeline (built-in tasks, embedded MiniLM, store, sweep) at a small size, and its report."""
    from probewise import HFSource, extract
    from probewise.extract import ExtractConfig, load_examples
    from probewise.report.compare import load_results
    from probewise.report.html import write_report
    from probewise.sweeps import SweepConfig, sweep

    out = tmp_path_factory.mktemp("demo")
    source = None
    for task in ("negation", "sentence_length"):  # binary and 3-class
        cfg = ExtractConfig(out=str(out / "stores" / task), task=task, task_size=90, progress=False, device="cpu")
        source = source or HFSource(cfg.model, cfg.layers, cfg.pooling, device="cpu")  # the model, loaded once
        store = extract(source, load_examples(cfg), cfg.out, progress=False)
        sweep_cfg = SweepConfig(probes=("logistic", "ridge"), C_grid=(0.01, 1.0, 100.0),
                                alpha_grid=(1.0, 100.0, 1e4), n_boot=200)
        sweep(store, sweep_cfg).save(out / "results" / task)
    return write_report(load_results([out]), out / "report.html", title="probewise demo")


class Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.svg_paths: list[int] = []
        self.tables = 0
        self.body_attrs: dict[str, str | None] = {}

    def handle_starttag(self, tag, attrs):
        if tag == "svg":
            self.svg_paths.append(0)
        elif tag == "path" and self.svg_paths:
            self.svg_paths[-1] += 1
        elif tag == "table":
            self.tables += 1
        elif tag == "body":
            self.body_attrs = dict(attrs)


def test_screenshot_is_drawn_without_console_errors(demo_report, tmp_path):
    from PIL import Image

    png = tmp_path / "report.png"
    proc = chromium(tmp_path, f"--screenshot={png}", "--window-size=1280,2400", demo_report.as_uri())
    assert console_messages(proc.stderr) == []
    im = Image.open(png).convert("RGB")
    assert im.size == (1280, 2400)
    colours = im.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 200, "the page looks blank"
    px = np.asarray(im, dtype=np.int16)
    ink = float((px.min(axis=2) < 200).mean())
    blue = int(((px[..., 2] - px[..., 0]) > 60).sum())  # the probe lines and CI bands of the plots
    assert ink > 0.02 and blue > 2000, (ink, blue)


def test_dom_has_drawn_svgs_and_tables(demo_report, tmp_path):
    proc = chromium(tmp_path, "--dump-dom", demo_report.as_uri())
    assert console_messages(proc.stderr) == []
    dom = Dom()
    dom.feed(proc.stdout)
    # negation and sentence_length (3 classes): layers, reliability, ROC, confusion matrix each
    assert len(dom.svg_paths) == 8 and min(dom.svg_paths) >= 20, dom.svg_paths
    assert dom.tables >= 5
    assert "negation" in proc.stdout and "sentence_length" in proc.stdout and "test accuracy [95% CI]" in proc.stdout


CLICK_ALL = """<script>
(function () {
  var heads = document.querySelectorAll('table.sortable thead th');
  for (var i = 0; i < heads.length; i++) { heads[i].click(); }
  var t = document.querySelector('table.sortable'), ths = t.querySelectorAll('thead th'), col = -1;
  for (var j = 0; j < ths.length; j++) { if (ths[j].textContent.indexOf('test accuracy') === 0) { col = j; } }
  function record(name) {
    var vals = [], rows = t.tBodies[0].rows;
    for (var r = 0; r < rows.length; r++) { vals.push(rows[r].cells[col].getAttribute('data-sort')); }
    document.body.setAttribute('data-' + name, ths[col].getAttribute('aria-sort') + ':' + vals.join(','));
  }
  ths[col].click();
  record('first');
  ths[col].click();
  record('second');
})();
</script></body>"""


def test_tables_sort_on_click_without_errors(demo_report, tmp_path):
    page = tmp_path / "clicked.html"
    page.write_text(demo_report.read_text().replace("</body>", CLICK_ALL))
    proc = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert console_messages(proc.stderr) == []
    dom = Dom()
    dom.feed(proc.stdout)
    for key, order in (("data-first", "ascending"), ("data-second", "descending")):
        got, _, values = dom.body_attrs[key].partition(":")
        values = [float(v) for v in values.split(",")]
        assert got == order and len(values) == 4  # 2 tasks × 2 probes
        assert values == sorted(values, reverse=order == "descending")
