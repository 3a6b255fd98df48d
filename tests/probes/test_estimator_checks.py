"""scikit-learn's own estimator test suite on every linear probe."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from probewise.probes import LogisticProbe, MeanDiffProbe, RidgeProbe
from tests.fit.features import one_thread  # noqa: F401 (autouse fixture)


@parametrize_with_checks(
    [
        LogisticProbe(),
        LogisticProbe(standardize=False, dtype="float64"),
        RidgeProbe(),
        MeanDiffProbe(),
        MeanDiffProbe(whiten=True, threshold="logistic"),
    ]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
