"""Probes: scikit-learn classifiers on a frozen model's representations, saved without pickle.

* :class:`LogisticProbe`, :class:`RidgeProbe`, :class:`MeanDiffProbe`: linear probes on arrays ``[n, d]``.
* :func:`load_probe`: rebuild any saved probe from ``path.json`` + ``path.safetensors``.
"""

from probewise.probes.base import ProbeBase, load_probe, probe_paths
from probewise.probes.linear import LinearProbe, LogisticProbe, MeanDiffProbe, RidgeProbe

__all__ = [
    "LinearProbe",
    "LogisticProbe",
    "MeanDiffProbe",
    "ProbeBase",
    "RidgeProbe",
    "load_probe",
    "probe_paths",
]
