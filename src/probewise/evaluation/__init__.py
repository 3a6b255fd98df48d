"""Evaluation that can be trusted, on plain arrays: splits, curves, operating points, OOD, controls, geometry.

Selection (thresholds, bands, ``C``) sees validation data only; test data are read once to report, with split
sizes and intervals. Everything takes features ``[n, d]`` and labels ``[n]`` (or ``[n, a]``), so it composes
with the sweep's stored features.

Example:
    >>> import numpy as np
    >>> from probewise.evaluation import kfold, target_kind
    >>> target_kind(np.array([0.2, 1.7, 3.1])), len(kfold([0, 1] * 10, k=4, seed=0))
    ('regression', 4)
"""

from probewise.evaluation.controls import (
    DEFAULT_CS,
    BaselineResult,
    ControlResult,
    choose_tfidf_C,
    control_labels,
    control_task,
    majority_baseline,
    random_direction_baseline,
    selectivity,
    tfidf_baseline,
)
from probewise.evaluation.curves import CurvePoint, data_efficiency, few_shot_draws, few_shot_eval
from probewise.evaluation.geometry import (
    LayerGeometry,
    class_mean_cosines,
    effective_rank,
    geometry_by_layer,
    layer_geometry,
    mean_norm,
)
from probewise.evaluation.multilabel import MultilabelReport, fit_multilabel
from probewise.evaluation.ood import (
    METHODS as OOD_METHODS,
)
from probewise.evaluation.ood import (
    MahalanobisModel,
    OODRow,
    energy_score,
    fit_mahalanobis,
    fpr_at_tpr,
    knn_score,
    mahalanobis_score,
    max_logit_score,
    msp_score,
    ood_by_layer,
    ood_metrics,
)
from probewise.evaluation.paired import PairedDiff, holm, mcnemar_exact, paired_bootstrap
from probewise.evaluation.splits import group_split, kfold, leave_one_group_out
from probewise.evaluation.targets import KINDS, nearest_mean, target_kind
from probewise.evaluation.thresholds import (
    Band,
    Cascade,
    CascadeDecision,
    CascadeReport,
    ThresholdReport,
    choose_band,
    evaluate_cascade,
    rates_at_threshold,
    threshold_report,
)

__all__ = [
    "PairedDiff",
    "holm",
    "mcnemar_exact",
    "paired_bootstrap",
    "DEFAULT_CS",
    "KINDS",
    "OOD_METHODS",
    "Band",
    "BaselineResult",
    "Cascade",
    "CascadeDecision",
    "CascadeReport",
    "ControlResult",
    "CurvePoint",
    "LayerGeometry",
    "MahalanobisModel",
    "MultilabelReport",
    "OODRow",
    "ThresholdReport",
    "choose_band",
    "choose_tfidf_C",
    "class_mean_cosines",
    "control_labels",
    "control_task",
    "data_efficiency",
    "effective_rank",
    "energy_score",
    "evaluate_cascade",
    "few_shot_draws",
    "few_shot_eval",
    "fit_mahalanobis",
    "fit_multilabel",
    "fpr_at_tpr",
    "geometry_by_layer",
    "group_split",
    "kfold",
    "knn_score",
    "layer_geometry",
    "leave_one_group_out",
    "mahalanobis_score",
    "majority_baseline",
    "max_logit_score",
    "mean_norm",
    "msp_score",
    "nearest_mean",
    "ood_by_layer",
    "ood_metrics",
    "random_direction_baseline",
    "rates_at_threshold",
    "selectivity",
    "target_kind",
    "tfidf_baseline",
    "threshold_report",
]
