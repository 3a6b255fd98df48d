"""Probes: scikit-learn-style classifiers on a frozen model's representations, saved without pickle.

* Linear, on arrays ``[n, d]``: :class:`LogisticProbe`, :class:`RidgeProbe`, :class:`MeanDiffProbe`.
* Pooled, non-linear: :class:`MLPProbe`, :class:`KNNProbe` (DINO protocol; :func:`knn_eval` for many k).
* Over token sequences (``Ragged`` or padded ``[n, t, d]`` + mask): :class:`EfficientProbe`,
  :class:`AttentivePoolerProbe`, :class:`MomentProbe`, and the long-context probes with streaming forms
  :class:`MeanLinearProbe`, :class:`EMAMaxProbe`, :class:`AttentionProbe`, :class:`MultiMaxProbe`,
  :class:`RollingAttentionProbe`.
* Per token: :class:`TokenProbe` (token, span and sequence scores).
* :func:`load_probe`: rebuild any saved probe from ``path.json`` + ``path.safetensors``.
"""

from probewise.probes.attentive import AttentivePoolerProbe, EfficientProbe
from probewise.probes.base import ProbeBase, load_probe, probe_paths
from probewise.probes.knn import KNNProbe, knn_eval, select_k
from probewise.probes.linear import LinearProbe, LogisticProbe, MeanDiffProbe, RidgeProbe
from probewise.probes.longcontext import (
    AttentionProbe,
    EMAMaxProbe,
    MeanLinearProbe,
    MultiMaxProbe,
    RollingAttentionProbe,
)
from probewise.probes.mlp import MLPProbe
from probewise.probes.moment import MomentProbe
from probewise.probes.token import TokenProbe, flatten_tokens

__all__ = [
    "AttentionProbe", "AttentivePoolerProbe", "EMAMaxProbe", "EfficientProbe", "KNNProbe", "LinearProbe",
    "LogisticProbe", "MLPProbe", "MeanDiffProbe", "MeanLinearProbe", "MomentProbe", "MultiMaxProbe", "ProbeBase",
    "RidgeProbe", "RollingAttentionProbe", "TokenProbe", "flatten_tokens", "knn_eval", "load_probe", "probe_paths",
    "select_k",
]
