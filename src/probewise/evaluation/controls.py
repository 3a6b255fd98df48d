"""Controls and baselines: what a probe's accuracy must beat before it says anything about a representation.

* the **control task** (Hewitt & Liang 2019): the same probe trained on random labels — permuted per example, or
  for token tasks one random but fixed label per word type — and ``selectivity = accuracy - control accuracy``;
* **majority class**, a **random-direction probe** (a 1-D logistic on the projection onto a random unit
  vector) and, for text, a **TF-IDF logistic regression** on the raw texts with ``C`` chosen on validation.

Every function reports test metrics; any choice (here only TF-IDF's ``C``) is made on validation by a function
that takes no test data (:func:`choose_tfidf_C`).

Example:
    >>> import numpy as np
    >>> from probewise.evaluation import majority_baseline
    >>> res = majority_baseline([0, 1, 1, 1], [1, 1, 0, 1], n_boot=0)
    >>> res.chosen, res.metrics["accuracy"].value
    ({'class': 1}, 0.75)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from probewise.errors import ConfigError, DataError
from probewise.evaluation.targets import FitPredict, as_features, class_labels
from probewise.metrics import Estimate, accuracy, bootstrap_ci, evaluate_classification, get_metric
from probewise.metrics._checks import as_labels, as_pred_labels, as_scores, check_lengths, to_numpy

__all__ = [
    "DEFAULT_CS",
    "BaselineResult",
    "ControlResult",
    "choose_tfidf_C",
    "control_labels",
    "control_task",
    "majority_baseline",
    "random_direction_baseline",
    "selectivity",
    "tfidf_baseline",
]

DEFAULT_CS = (0.01, 0.1, 1.0, 10.0, 100.0)


# ------------------------------------------------------------------------------------------------ control task
def control_labels(labels: Any, seed: int = 0, token_ids: Any = None) -> np.ndarray:
    """Random control labels: a seeded permutation, or one random fixed label per word type.

    With ``token_ids``, each distinct id gets a label drawn from the empirical label distribution, and every
    occurrence of that id carries it (Hewitt & Liang's control task: learnable only by memorising types). Call
    it once on all splits together so a type keeps its label across train and test.

    Example:
        >>> control_labels([0, 0, 1, 1, 1], seed=0).tolist() != [0, 0, 1, 1, 1]
        True
        >>> c = control_labels([0, 1, 1, 0, 1], seed=0, token_ids=[7, 3, 7, 3, 9])
        >>> bool(c[0] == c[2] and c[1] == c[3])
        True

    Args:
        labels: Class labels ``[n]``.
        seed: Seed of the randomisation.
        token_ids: Optional word-type id per example ``[n]`` (token ids, lemmas, ...).

    Returns:
        Control labels ``[n]`` (int64).
    """
    y = class_labels(labels, "labels")
    rng = np.random.default_rng(seed)
    if token_ids is None:
        return rng.permutation(y)
    ids = to_numpy(token_ids)
    check_lengths(labels=y, token_ids=ids)
    _, type_of = np.unique(ids, return_inverse=True)
    classes, counts = np.unique(y, return_counts=True)
    per_type = rng.choice(classes, size=int(type_of.max()) + 1, p=counts / counts.sum())
    return per_type[type_of].astype(np.int64)


def selectivity(task_accuracy: float, control_accuracy: float) -> float:
    """``task_accuracy - control_accuracy``: how much of a probe's accuracy the control task cannot reproduce.

    Example:
        >>> round(selectivity(0.9, 0.6), 2)
        0.3
    """
    return float(task_accuracy) - float(control_accuracy)


@dataclass(frozen=True)
class ControlResult:
    """A probe on the real task and on the control task, with paired bootstrap intervals.

    Attributes:
        task: Test accuracy on the real labels.
        control: Test accuracy on the control labels.
        selectivity: ``task - control`` (interval from the same resamples of test examples).
        control_kind: ``"permutation"`` or ``"word_type"``.
        n_train: Training examples.
        n_test: Test examples.
        seed: Seed of the control labels and the resampling.
    """

    task: Estimate
    control: Estimate
    selectivity: Estimate
    control_kind: str
    n_train: int
    n_test: int
    seed: int


def _selectivity_terms(y: np.ndarray, yc: np.ndarray, p: np.ndarray, pc: np.ndarray) -> float:
    return float(np.mean(y == p) - np.mean(yc == pc))


def _pred_labels(out: Any) -> np.ndarray:
    """Predicted labels from a fit_predict output: ``[m, k]`` scores (argmax), labels, or ``[m]`` probabilities."""
    a = to_numpy(out)
    if a.ndim == 1 and a.dtype.kind == "f" and np.any(a != np.round(a)):
        return (as_scores(a, "fit_predict output", allow_2d=False) >= 0.5).astype(np.int64)
    return as_pred_labels(a, "fit_predict output")


def control_task(
    fit_predict: FitPredict,
    X_tr: Any,
    y_tr: Any,
    X_te: Any,
    y_te: Any,
    *,
    token_ids_tr: Any = None,
    token_ids_te: Any = None,
    seed: int = 0,
    n_boot: int = 1000,
    alpha: float = 0.05,
) -> ControlResult:
    """Fit the probe on the real and on control labels; report both test accuracies and the selectivity.

    Example:
        >>> import numpy as np
        >>> from probewise.evaluation import nearest_mean
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(400, 5)); y = (X[:, 0] > 0).astype(int)
        >>> res = control_task(nearest_mean, X[:300], y[:300], X[300:], y[300:], n_boot=0)
        >>> res.task.value > 0.8, res.selectivity.value > 0.2
        (True, True)

    Args:
        fit_predict: ``(X_tr, y_tr, X_te) ->`` scores ``[m, k]`` (argmax taken), positive-class probabilities
            ``[m]`` (thresholded at 0.5) or predicted labels ``[m]``.
        X_tr: Training features ``[n, d]``.
        y_tr: Training labels ``[n]``.
        X_te: Test features ``[m, d]``.
        y_te: Test labels ``[m]``.
        token_ids_tr: Word-type ids of the training examples (token tasks); both or neither of the two.
        token_ids_te: Word-type ids of the test examples.
        seed: Seed of the control labels and of the resampling.
        n_boot: Bootstrap resamples (0: point estimates).
        alpha: Miscoverage.

    Returns:
        A :class:`ControlResult`.
    """
    X_tr, X_te = as_features(X_tr, "X_tr"), as_features(X_te, "X_te")
    y_tr, y_te = class_labels(y_tr, "y_tr"), as_labels(y_te, "y_te")
    check_lengths(X_tr=X_tr, y_tr=y_tr)
    check_lengths(X_te=X_te, y_te=y_te)
    if (token_ids_tr is None) != (token_ids_te is None):
        raise ConfigError("pass both token_ids_tr and token_ids_te (word-type control), or neither (permutation).")
    ids = None
    if token_ids_tr is not None:
        a, b = to_numpy(token_ids_tr), to_numpy(token_ids_te)
        check_lengths(y_tr=y_tr, token_ids_tr=a)
        check_lengths(y_te=y_te, token_ids_te=b)
        ids = np.concatenate([a, b])
    yc = control_labels(np.concatenate([y_tr, y_te]), seed=seed, token_ids=ids)
    yc_tr, yc_te = yc[: y_tr.size], yc[y_tr.size :]
    pred = _pred_labels(fit_predict(X_tr, y_tr, X_te))
    pred_c = _pred_labels(fit_predict(X_tr, yc_tr, X_te))
    kw = {"n_boot": n_boot, "alpha": alpha, "seed": seed}
    return ControlResult(
        bootstrap_ci(accuracy, y_te, pred, **kw),
        bootstrap_ci(accuracy, yc_te, pred_c, **kw),
        bootstrap_ci(_selectivity_terms, y_te, yc_te, pred, pred_c, **kw),
        "permutation" if ids is None else "word_type",
        int(y_tr.size),
        int(y_te.size),
        int(seed),
    )


# ---------------------------------------------------------------------------------------------------- baselines
@dataclass(frozen=True, eq=False)
class BaselineResult:
    """Test metrics of a baseline, with what it chose (on validation) and the split sizes.

    Attributes:
        name: ``"majority"``, ``"random_direction"`` or ``"tfidf"``.
        metrics: ``{metric: Estimate}`` on the test split.
        n_train: Training examples.
        n_val: Validation examples used for choices (0 when nothing was chosen).
        n_test: Test examples.
        chosen: What was chosen or drawn (``{"C": 1.0}``, ``{"class": 1}``, ``{"seed": 0}``).
        val_scores: Validation score of each candidate (TF-IDF: ``{C: score}``).
    """

    name: str
    metrics: dict[str, Estimate]
    n_train: int
    n_val: int
    n_test: int
    chosen: dict[str, Any]
    val_scores: dict[Any, float] = field(default_factory=dict)


def _codes(y_tr: Any, *others: tuple[Any, str]) -> tuple[np.ndarray, list[np.ndarray], int]:
    """Training labels (class codes 0..k-1, all present) and other label arrays checked against them."""
    y = class_labels(y_tr, "y_tr")
    rest = [as_labels(o, name) for o, name in others]
    k = int(max([y.max()] + [r.max() for r in rest])) + 1
    absent = np.setdiff1d(np.arange(k), y)
    if y.min() < 0 or absent.size:
        raise DataError(
            f"labels must be class codes 0..{k - 1} with every class in training data (missing: "
            f"{absent.tolist()}); encode them with np.unique(y, return_inverse=True)[1] over all splits."
        )
    return y, rest, k


def _full_probs(model: LogisticRegression, Z: Any, k: int) -> np.ndarray:
    p = np.zeros((Z.shape[0], k))
    p[:, model.classes_.astype(np.int64)] = model.predict_proba(Z)
    return p


def _metrics(y: np.ndarray, probs: np.ndarray, metrics: Sequence[str], n_boot: int, alpha: float, seed: int):
    return evaluate_classification(y, probs, tuple(metrics), n_boot=n_boot, alpha=alpha, seed=seed)


def majority_baseline(
    y_tr: Any, y_te: Any, *, metrics: Sequence[str] = ("accuracy",), n_boot: int = 1000, alpha: float = 0.05,
    seed: int = 0,
) -> BaselineResult:
    """Predict the training class frequencies for every test example (the majority class on argmax).

    Example:
        >>> res = majority_baseline([0, 0, 1], [0, 1, 1, 1], metrics=("accuracy", "log_loss"), n_boot=0)
        >>> res.chosen, res.metrics["accuracy"].value
        ({'class': 0}, 0.25)

    Args:
        y_tr: Training labels ``[n]`` (codes ``0..k-1``).
        y_te: Test labels ``[m]``.
        metrics: Classification metric names.
        n_boot: Bootstrap resamples (0: point estimates).
        alpha: Miscoverage.
        seed: Seed of the resampling.

    Returns:
        A :class:`BaselineResult`.
    """
    y, (yt,), k = _codes(y_tr, (y_te, "y_te"))
    prior = np.bincount(y, minlength=k) / y.size
    probs = np.tile(prior, (yt.size, 1))
    return BaselineResult("majority", _metrics(yt, probs, metrics, n_boot, alpha, seed), int(y.size), 0,
                          int(yt.size), {"class": int(np.argmax(prior))})


def random_direction_baseline(
    X_tr: Any, y_tr: Any, X_te: Any, y_te: Any, *, seed: int = 0, metrics: Sequence[str] = ("accuracy",),
    n_boot: int = 1000, alpha: float = 0.05,
) -> BaselineResult:
    """Project onto one random unit vector (from ``seed``) and fit a 1-D logistic regression on train.

    Any probe should beat it; run several seeds for its spread.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(400, 64)); y = (X[:, 0] > 0).astype(int)
        >>> res = random_direction_baseline(X[:300], y[:300], X[300:], y[300:], seed=0, n_boot=0)
        >>> res.metrics["accuracy"].value < 0.75
        True

    Args:
        X_tr: Training features ``[n, d]``.
        y_tr: Training labels ``[n]`` (codes ``0..k-1``).
        X_te: Test features ``[m, d]``.
        y_te: Test labels ``[m]``.
        seed: Seed of the direction (and of the resampling).
        metrics: Classification metric names.
        n_boot: Bootstrap resamples.
        alpha: Miscoverage.

    Returns:
        A :class:`BaselineResult` (``chosen = {"seed": seed}``).
    """
    X, Xt = as_features(X_tr, "X_tr").astype(np.float64), as_features(X_te, "X_te").astype(np.float64)
    y, (yt,), k = _codes(y_tr, (y_te, "y_te"))
    check_lengths(X_tr=X, y_tr=y)
    check_lengths(X_te=Xt, y_te=yt)
    u = np.random.default_rng(seed).normal(size=X.shape[1])
    u /= np.linalg.norm(u)
    z, zt = X @ u, Xt @ u
    mu, sd = z.mean(), max(float(z.std()), 1e-12)
    model = LogisticRegression(C=1.0, max_iter=1000).fit(((z - mu) / sd)[:, None], y)
    probs = _full_probs(model, ((zt - mu) / sd)[:, None], k)
    return BaselineResult("random_direction", _metrics(yt, probs, metrics, n_boot, alpha, seed), int(y.size), 0,
                          int(yt.size), {"seed": int(seed)})


def _texts(texts: Any, name: str) -> list[str]:
    texts = list(texts)
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise DataError(f"{name}[{bad[0]}] is {type(texts[bad[0]]).__name__}, not str; pass the raw texts.")
    return texts


def _tfidf_fit(texts_tr: list[str], y: np.ndarray, C: float, kwargs: dict[str, Any]):
    vec = TfidfVectorizer(**kwargs)
    Z = vec.fit_transform(texts_tr)
    return vec, LogisticRegression(C=float(C), max_iter=1000).fit(Z, y)


def choose_tfidf_C(
    texts_tr: Sequence[str],
    y_tr: Any,
    texts_val: Sequence[str],
    y_val: Any,
    Cs: Sequence[float] = DEFAULT_CS,
    *,
    metric: str = "accuracy",
    vectorizer_kwargs: dict[str, Any] | None = None,
) -> tuple[float, dict[float, float]]:
    """Choose the inverse regularisation ``C`` of the TF-IDF logistic baseline on validation data (only).

    The vectorizer is fitted on the training texts. Ties go to the smallest ``C`` (strongest regularisation).

    Example:
        >>> tr = ["good film", "great film", "bad film", "awful film"] * 5
        >>> C, scores = choose_tfidf_C(tr, [1, 1, 0, 0] * 5, ["good", "awful"], [1, 0], Cs=(0.01, 10.0))
        >>> C, scores[10.0]
        (0.01, 1.0)

    Args:
        texts_tr: Training texts.
        y_tr: Training labels (codes ``0..k-1``).
        texts_val: Validation texts.
        y_val: Validation labels.
        Cs: Candidate values of ``C``.
        metric: Selection metric (classification name of ``probewise.metrics.METRICS``; direction respected).
        vectorizer_kwargs: Keyword arguments of ``TfidfVectorizer``.

    Returns:
        ``(C, {C: validation score})``.
    """
    texts_tr, texts_val = _texts(texts_tr, "texts_tr"), _texts(texts_val, "texts_val")
    y, (yv,), k = _codes(y_tr, (y_val, "y_val"))
    check_lengths(texts_tr=np.empty(len(texts_tr)), y_tr=y)
    check_lengths(texts_val=np.empty(len(texts_val)), y_val=yv)
    if not len(Cs) or any(not float(c) > 0 for c in Cs):
        raise ConfigError(f"Cs must be a non-empty sequence of positive numbers, got {Cs!r}.")
    sign = 1.0 if get_metric(metric).greater_is_better else -1.0
    kwargs = dict(vectorizer_kwargs or {})
    vec = TfidfVectorizer(**kwargs)
    Z, Zv = vec.fit_transform(texts_tr), vec.transform(texts_val)
    scores: dict[float, float] = {}
    for C in sorted(float(c) for c in Cs):
        model = LogisticRegression(C=C, max_iter=1000).fit(Z, y)
        scores[C] = _metrics(yv, _full_probs(model, Zv, k), (metric,), 0, 0.05, 0)[metric].value
    best = max(scores, key=lambda c: (sign * scores[c], -c))
    return best, scores


def tfidf_baseline(
    texts_tr: Sequence[str],
    y_tr: Any,
    texts_val: Sequence[str],
    y_val: Any,
    texts_te: Sequence[str],
    y_te: Any,
    *,
    Cs: Sequence[float] = DEFAULT_CS,
    metric: str = "accuracy",
    metrics: Sequence[str] = ("accuracy",),
    vectorizer_kwargs: dict[str, Any] | None = None,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> BaselineResult:
    """Bag-of-words baseline: TF-IDF + logistic regression on the raw texts, ``C`` chosen on validation.

    :func:`choose_tfidf_C` sees train and validation only; the model with the chosen ``C`` (fitted on train) is
    then scored once on test.

    Example:
        >>> tr = ["good film", "great film", "bad film", "awful film"] * 5
        >>> res = tfidf_baseline(tr, [1, 1, 0, 0] * 5, ["good", "awful"], [1, 0], ["great", "bad"], [1, 0],
        ...                      Cs=(0.1, 10.0), n_boot=0)
        >>> res.chosen, res.metrics["accuracy"].value, (res.n_train, res.n_val, res.n_test)
        ({'C': 0.1}, 1.0, (20, 2, 2))

    Args:
        texts_tr: Training texts.
        y_tr: Training labels (codes ``0..k-1``).
        texts_val: Validation texts.
        y_val: Validation labels.
        texts_te: Test texts.
        y_te: Test labels.
        Cs: Candidate values of ``C``.
        metric: Selection metric on validation.
        metrics: Test metrics to report.
        vectorizer_kwargs: Keyword arguments of ``TfidfVectorizer``.
        n_boot: Bootstrap resamples of the test metrics.
        alpha: Miscoverage.
        seed: Seed of the resampling.

    Returns:
        A :class:`BaselineResult` with ``chosen = {"C": C}`` and ``val_scores = {C: score}``.
    """
    C, val_scores = choose_tfidf_C(texts_tr, y_tr, texts_val, y_val, Cs, metric=metric,
                                   vectorizer_kwargs=vectorizer_kwargs)
    texts_tr, texts_te = _texts(texts_tr, "texts_tr"), _texts(texts_te, "texts_te")
    y, (yv, yt), k = _codes(y_tr, (y_val, "y_val"), (y_te, "y_te"))
    check_lengths(texts_te=np.empty(len(texts_te)), y_te=yt)
    vec, model = _tfidf_fit(texts_tr, y, C, dict(vectorizer_kwargs or {}))
    probs = _full_probs(model, vec.transform(texts_te), k)
    return BaselineResult("tfidf", _metrics(yt, probs, metrics, n_boot, alpha, seed), int(y.size), int(yv.size),
                          int(yt.size), {"C": C}, val_scores)
