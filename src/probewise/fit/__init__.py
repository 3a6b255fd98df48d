"""Solvers shared by the probes: many problems (layers x hyperparameters) in one tensor program.

* :func:`fit_logistic`: L2 logistic regression (binary and multinomial), every layer x every C.
* :func:`fit_ridge` / :func:`fit_ridge_classifier`: ridge for every layer x every alpha from one
  tridiagonal reduction per layer, or one eigendecomposition with exact leave-one-out errors.
* :func:`fit_meandiff`: difference-of-means directions, optionally whitened with a shrunk covariance.

All take features ``[L, n, d]`` (or ``[n, d]``), work on any torch device and return coefficients in the
original feature space.
"""

from probewise.fit.logistic import LogisticPath, fit_logistic
from probewise.fit.meandiff import MeanDiffFit, fit_meandiff, ledoit_wolf_shrinkage
from probewise.fit.ridge import RidgePath, fit_ridge, fit_ridge_classifier, ridge_targets

__all__ = [
    "LogisticPath",
    "MeanDiffFit",
    "RidgePath",
    "fit_logistic",
    "fit_meandiff",
    "fit_ridge",
    "fit_ridge_classifier",
    "ledoit_wolf_shrinkage",
    "ridge_targets",
]
