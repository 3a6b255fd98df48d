"""A probe ready to deploy: weights plus everything needed to apply it safely to a running model.

One artifact is two files, written by the probe's own :meth:`save` (no pickle):

* ``path.safetensors``: the probe's weights and standardization (scaler);
* ``path.json``: the probe's parameters, and under ``metadata.probewise_artifact`` the deployment metadata: the
  model id and weights fingerprint, the layer and hook point, the pooling (or streaming aggregation), the
  threshold and the FPR it was set for (and an optional cascade band), the calibration temperature, the
  training-data fingerprint, metrics, and the probewise version.

Example:
    >>> import numpy as np, os, tempfile, torch, transformers
    >>> from probewise.artifact import ProbeArtifact, model_fingerprint
    >>> from probewise.probes import LogisticProbe
    >>> cfg = transformers.GPT2Config(vocab_size=64, n_embd=16, n_layer=2, n_head=2, n_positions=32)
    >>> model = transformers.GPT2LMHeadModel(cfg)
    >>> X = np.random.default_rng(0).normal(size=(100, 16)); y = (X[:, 0] > 0).astype(int)
    >>> art = ProbeArtifact(LogisticProbe().fit(X, y), "tiny-gpt2", model_fingerprint(model), layer=1,
    ...                     pooling="mean", threshold=0.5, target_fpr=0.01)
    >>> path = os.path.join(tempfile.mkdtemp(), "probe")
    >>> _ = art.save(path)
    >>> again = ProbeArtifact.load(path)
    >>> again.layer, again.threshold, again.check_model(model)
    (1, 0.5, 1)
    >>> again.check_model(model, layer=2)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    probewise.errors.ProbeError: this probe was trained on layer 1 of tiny-gpt2, not layer 2. Pass ...
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from probewise._version import __version__
from probewise.errors import ConfigError, ProbeError
from probewise.probes.base import load_probe, probe_paths
from probewise.sources.base import weights_fingerprint

__all__ = ["POOLINGS", "ProbeArtifact", "model_fingerprint"]

FORMAT = "probewise.artifact"
FORMAT_VERSION = 1
META_KEY = "probewise_artifact"
#: pooled features (a running statistic when streamed), or "tokens" for probes with their own streaming form.
POOLINGS = ("mean", "last", "max", "first", "tokens")


def model_fingerprint(model: nn.Module) -> str:
    """The weights fingerprint of a model's base (``model.base_model``), as extraction records it.

    An ``AutoModelForCausalLM`` and the ``AutoModel`` that :class:`probewise.sources.HFSource` loads share it, so
    a probe trained on a store matches the generating model of the same weights (and dtype). Weights offloaded
    to disk (``device_map``) are read from the model's checkpoint.
    """
    base = getattr(model, "base_model", None)
    base = base if isinstance(base, nn.Module) else model
    if any(p.device.type == "meta" for p in base.parameters()):  # offloaded (device_map): read from the checkpoint
        from probewise.model.loading import fingerprint

        folder = getattr(getattr(base, "config", None), "_name_or_path", None)
        if not folder:
            raise ProbeError("the model's weights are offloaded and its folder is unknown; cannot fingerprint it.")
        return fingerprint(base, folder)
    return weights_fingerprint(base)


def _edge(x: float | None, default: float) -> float:
    return default if x is None else float(x)


@dataclass(eq=False)
class ProbeArtifact:
    """A fitted probe with its deployment metadata; see the module docstring.

    Attributes:
        probe: a fitted probe: pooled features (logistic, ridge, mean-diff, MLP, ...) or a long-context probe with
            a streaming form (``pooling="tokens"``).
        model_id: the model's hub id or folder (informative).
        model_fingerprint: :func:`model_fingerprint` of the model the probe was trained on.
        layer: the layer read, as in probewise (``i`` = ``hidden_states[i]``, the input of block ``i``).
        pooling: how training features were pooled: ``mean | last | max | first``, or ``tokens``.
        threshold: decision threshold on the probe's score (``decision_function``): flag when ``score >= threshold``.
        target_fpr: the false-positive rate the threshold was chosen for (on validation).
        temperature: calibration temperature: probability = ``sigmoid(score / temperature)``.
        data_fingerprint: fingerprint of the training data (the store's ``identity.dataset_fingerprint``).
        metrics: any JSON-able metrics (validation AUROC, directional stability, ...).
        band: ``(tau_low, tau_high)`` of a cascade's deferral band on the score (None for either edge = infinite).
        hook_point: where the layer is read; ``"hidden_states"`` (probewise's layer indexing).
        num_hidden_states: ``L + 1`` of the training model when known (checked on attach).
    """

    probe: Any
    model_id: str
    model_fingerprint: str | None
    layer: int
    pooling: str
    threshold: float | None = None
    target_fpr: float | None = None
    temperature: float = 1.0
    data_fingerprint: str | None = None
    metrics: dict[str, Any] | None = None
    band: tuple[float | None, float | None] | None = None
    hook_point: str = "hidden_states"
    num_hidden_states: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.pooling not in POOLINGS:
            raise ConfigError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}.")
        if isinstance(self.layer, bool) or not isinstance(self.layer, int | np.integer) or self.layer < 0:
            raise ConfigError(f"layer must be an int >= 0 (0 = embeddings), got {self.layer!r}.")
        self.layer = int(self.layer)
        if not (isinstance(self.temperature, int | float) and math.isfinite(self.temperature) and self.temperature > 0):
            raise ConfigError(f"temperature must be a finite number > 0, got {self.temperature!r}.")
        if self.threshold is not None and not math.isfinite(float(self.threshold)):
            raise ConfigError(f"threshold must be finite, got {self.threshold!r}.")
        if self.target_fpr is not None and not 0 < float(self.target_fpr) < 1:
            raise ConfigError(f"target_fpr must lie in (0, 1), got {self.target_fpr!r}.")
        if self.band is not None:
            lo, hi = self.band
            lo = None if lo is None or lo == -math.inf else float(lo)
            hi = None if hi is None or hi == math.inf else float(hi)
            if lo is not None and hi is not None and lo > hi:
                raise ConfigError(f"band must be (tau_low, tau_high) with tau_low <= tau_high, got {self.band!r}.")
            self.band = (lo, hi)
        if self.pooling == "tokens" and not hasattr(self.probe, "stream"):
            warnings.warn(f"{type(self.probe).__name__} reads token sequences but has no streaming form; the "
                          "artifact can be saved but not attached to a Monitor.", stacklevel=2)
        if not hasattr(self.probe, "n_features_in_"):
            raise ProbeError("the probe is not fitted; fit it before building an artifact.")

    # -- construction ----------------------------------------------------------------------------------------
    @classmethod
    def from_store(cls, store: Any, probe: Any, layer: int | str, *, threshold: float | None = None,
                   target_fpr: float | None = None, temperature: float = 1.0, metrics: dict | None = None,
                   band: tuple[float | None, float | None] | None = None) -> ProbeArtifact:
        """An artifact for a probe fitted on ``store`` (a :class:`~probewise.store.Store` or its folder).

        The model id, weights fingerprint, number of hidden states, dataset fingerprint and pooling come from
        the store's manifest; ``layer`` is a stored layer (``3``, ``"3"``, or ``-1`` for the last stored one).
        """
        from probewise.store import Store

        st = store if isinstance(store, Store) else Store(store)
        name = st.resolve_layer(layer)
        try:
            layer_i = int(name)
        except ValueError as e:
            raise ProbeError(f"store layer {name!r} is a module name, not a hidden-state index; artifacts for "
                             "ModuleSource stores are not attachable to a transformers model.") from e
        ident = st.manifest["identity"]
        src = ident["source"]
        return cls(probe, str(src.get("model")), src.get("fingerprint"), layer_i, st.pooling, threshold=threshold,
                   target_fpr=target_fpr, temperature=temperature, data_fingerprint=ident.get("dataset_fingerprint"),
                   metrics=metrics, band=band, num_hidden_states=src.get("num_hidden_states"))

    # -- properties ------------------------------------------------------------------------------------------
    @property
    def aggregation(self) -> str:
        """How the score is aggregated over tokens when streamed: ``running mean | last | running max | first``,
        or the long-context probe's own (``multimax``, ``emamax``, ...)."""
        if self.pooling == "tokens":
            return type(self.probe).__name__.removesuffix("Probe").lower()
        return {"mean": "running mean", "max": "running max"}.get(self.pooling, self.pooling)

    @property
    def n_features(self) -> int:
        return int(self.probe.n_features_in_)

    @property
    def binary(self) -> bool:
        return len(getattr(self.probe, "classes_", ())) == 2

    def probability(self, score: Any) -> np.ndarray:
        """Calibrated probability of the positive class, ``sigmoid(score / temperature)``."""
        z = np.asarray(score, dtype=np.float64) / self.temperature
        return 1.0 / (1.0 + np.exp(-np.clip(z, -700, 700)))

    def cascade(self, second: Any, second_threshold: float = 0.5) -> Any:
        """The :class:`~probewise.evaluation.thresholds.Cascade` of :attr:`band` with a second stage."""
        from probewise.evaluation.thresholds import Cascade

        if self.band is None:
            raise ConfigError("this artifact has no band; set band=(tau_low, tau_high), e.g. from "
                              "probewise.evaluation.thresholds.choose_band on validation scores.")
        return Cascade(_edge(self.band[0], -math.inf), _edge(self.band[1], math.inf), second, second_threshold)

    # -- scores of a whole sequence (offline) -----------------------------------------------------------------
    def prefix_scores(self, tokens: Any) -> np.ndarray:
        """The score after every token of one sequence ``tokens [t, d]`` (layer activations): ``[t]``.

        The offline reference of a :class:`~probewise.monitor.Monitor`: entry ``j`` is the probe's score of the
        prefix ``tokens[:j + 1]`` (pooled as in training, or the long-context probe's ``token_scores``).
        """
        x = np.asarray(tokens.detach().cpu() if hasattr(tokens, "detach") else tokens, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ProbeError(f"tokens must be [t, {self.n_features}], got shape {x.shape}.")
        if self.pooling == "tokens":
            return np.asarray(self.probe.token_scores([x.astype(np.float32)])[0], dtype=np.float64)
        n = np.arange(1, len(x) + 1)[:, None]
        pooled = {"mean": np.cumsum(x, 0) / n, "max": np.maximum.accumulate(x, 0), "last": x,
                  "first": np.repeat(x[:1], len(x), 0)}[self.pooling]
        return np.asarray(self.probe.decision_function(pooled), dtype=np.float64)

    # -- checks ----------------------------------------------------------------------------------------------
    def check_model(self, model: nn.Module, layer: int | None = None, *, allow_mismatch: bool = False,
                    fingerprint: str | None = None, blocks_path: str | None = None) -> int:
        """Refuse to read a model the probe was not trained on; return the layer to read.

        Args:
            model: the running model (``AutoModel`` or ``AutoModelForCausalLM``; its base is fingerprinted).
            layer: the layer it is to be attached at (None: the artifact's own).
            allow_mismatch: downgrade a fingerprint or layer mismatch to a warning.
            fingerprint: the model's :func:`model_fingerprint` if already computed.
            blocks_path: block-stack override (see :func:`probewise.steer.resolve_stack`).

        Raises:
            ProbeError: another model (fingerprint), another layer, a layer the model lacks or a hidden size that
                does not match the probe (the last two even with ``allow_mismatch``).
        """
        from probewise.steer import resolve_stack

        stack = resolve_stack(model, blocks_path)
        use = self.layer if layer is None else stack.check_layer(layer)
        if not 0 <= use <= stack.n_layers:
            raise ProbeError(f"this probe reads layer {use}, but the model has layers 0..{stack.n_layers} only.")
        if stack.hidden_size is not None and stack.hidden_size != self.n_features:
            raise ProbeError(f"this probe reads {self.n_features} features, the model's hidden size is "
                             f"{stack.hidden_size}: it was trained on another model.")
        problems = []
        if self.model_fingerprint is not None:
            fp = fingerprint or model_fingerprint(model)
            if fp != self.model_fingerprint:
                problems.append(f"the model's weights fingerprint {fp} differs from the one this probe was trained "
                                f"on ({self.model_fingerprint}, {self.model_id}); the same weights in another dtype "
                                "also differ")
        if use != self.layer:
            problems.append(f"this probe was trained on layer {self.layer} of {self.model_id}, not layer {use}")
        if self.num_hidden_states is not None and self.num_hidden_states != stack.n_layers + 1:
            problems.append(f"the training model had {self.num_hidden_states - 1} blocks, this one has "
                            f"{stack.n_layers}")
        if problems:
            msg = "; ".join(problems) + ". Pass allow_mismatch=True (--allow-mismatch) to use it anyway."
            if not allow_mismatch:
                raise ProbeError(msg)
            warnings.warn(msg, stacklevel=2)
        return use

    # -- files -----------------------------------------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        """The deployment metadata written under ``metadata.probewise_artifact`` of the probe's JSON."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "model": {"id": self.model_id, "fingerprint": self.model_fingerprint,
                      "num_hidden_states": self.num_hidden_states},
            "layer": self.layer,
            "hook_point": self.hook_point,
            "pooling": self.pooling,
            "aggregation": self.aggregation,
            "threshold": None if self.threshold is None else float(self.threshold),
            "target_fpr": None if self.target_fpr is None else float(self.target_fpr),
            "band": None if self.band is None else list(self.band),
            "temperature": float(self.temperature),
            "data_fingerprint": self.data_fingerprint,
            "metrics": self.metrics or {},
            "probe_class": type(self.probe).__name__,
            "n_features": self.n_features,
            "classes": np.asarray(self.probe.classes_).tolist(),
            "probewise_version": __version__,
            "extra": self.extra,
        }

    def save(self, path: str | Path) -> tuple[Path, Path]:
        """Write ``path.safetensors`` and ``path.json``; returns both paths."""
        meta = self.metadata()
        try:
            json.dumps(meta, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise ProbeError(f"artifact metadata must be JSON-serializable finite numbers and strings: {e}") from e
        return self.probe.save(path, metadata={META_KEY: meta})

    @classmethod
    def load(cls, path: str | Path, *, device: str | None = None) -> ProbeArtifact:
        """Read an artifact written by :meth:`save` (``device`` is passed to torch-module probes)."""
        probe = load_probe(path, device=device)
        meta = (getattr(probe, "metadata_", None) or {}).get(META_KEY)
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ProbeError(f"{probe_paths(path)[1]} is a probe without deployment metadata; wrap it with "
                             "ProbeArtifact(probe, model_id, model_fingerprint, layer, pooling, ...) and save that.")
        if int(meta.get("format_version", 0)) > FORMAT_VERSION:
            raise ProbeError(f"{probe_paths(path)[1]} was written by a newer probewise; upgrade to load it.")
        band = meta.get("band")
        return cls(probe, meta["model"]["id"], meta["model"].get("fingerprint"), int(meta["layer"]), meta["pooling"],
                   threshold=meta.get("threshold"), target_fpr=meta.get("target_fpr"),
                   temperature=float(meta.get("temperature", 1.0)), data_fingerprint=meta.get("data_fingerprint"),
                   metrics=meta.get("metrics") or None, band=None if band is None else tuple(band),
                   hook_point=meta.get("hook_point", "hidden_states"),
                   num_hidden_states=meta["model"].get("num_hidden_states"), extra=meta.get("extra") or {})

    def __repr__(self) -> str:
        return (f"ProbeArtifact({type(self.probe).__name__}, model={self.model_id!r}, layer={self.layer}, "
                f"pooling={self.pooling!r}, threshold={self.threshold}, target_fpr={self.target_fpr})")
