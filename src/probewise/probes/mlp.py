"""MLP probe on pooled features ``[n, d]``: 1-2 hidden layers, dropout, weight decay, standardization inside.

The module is *layered*: every weight carries a leading layer axis, so :meth:`MLPProbe.fit_layers` trains one
independent MLP per layer of ``Xs [L, n, d]`` in a single batched program (``torch.baddbmm``), with early
stopping and best-weight restoring per layer. ``fit`` is the case ``L = 1``.

Example:
    >>> import numpy as np
    >>> from probewise.probes.mlp import MLPProbe
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(600, 4)).astype("float32")
    >>> y = (np.sign(X[:, 0]) * np.sign(X[:, 1]) > 0).astype(int)     # XOR: no linear probe can do this
    >>> probe = MLPProbe(hidden_sizes=(32,), lr=1e-2, epochs=60, seed=0).fit(X, y)
    >>> probe.score(X, y) > 0.9
    True
    >>> probes = MLPProbe(hidden_sizes=(32,), lr=1e-2, epochs=5).fit_layers(np.stack([X, X[:, ::-1]]), y)
    >>> len(probes), probes[1].report_["layers_trained_together"]
    (2, 2)
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from sklearn.base import clone
from torch import nn

from probewise.errors import ConfigError
from probewise.fit.trainer import SeededDropout
from probewise.probes._torch_base import ProbeModule, TorchProbe, uniform_init

__all__ = ["LayeredMLP", "MLPProbe"]

_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu, "tanh": torch.tanh}


class LayeredMLP(ProbeModule):
    """``L`` independent MLPs: ``x [L, b, d] -> logits [L, b, k]``, standardizing each layer's features first.

    Each layer's initial weights are the same draw from ``generator`` (so layer ``l`` of a joint fit starts
    where a single fit of that layer with the same seed starts).
    """

    def __init__(self, n_layers: int, n_features: int, hidden_sizes: tuple[int, ...], n_outputs: int,
                 dropout: float, activation: str, generator: torch.Generator) -> None:
        super().__init__((n_layers, 1, n_features))
        dims = [n_features, *hidden_sizes, n_outputs]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for a, b in zip(dims[:-1], dims[1:], strict=True):
            self.weights.append(nn.Parameter(uniform_init((a, b), a, generator)[None].repeat(n_layers, 1, 1)))
            self.biases.append(nn.Parameter(uniform_init((1, b), a, generator)[None].repeat(n_layers, 1, 1)))
        self.drop = SeededDropout(dropout)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.standardize(x)
        act = _ACTIVATIONS[self.activation]
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = torch.baddbmm(b, h, w)
            if i < last:
                h = self.drop(act(h))
        return h

    def select_layer(self, layer: int) -> LayeredMLP:
        """A one-layer copy holding layer ``layer``'s weights and standardization."""
        out = LayeredMLP.__new__(LayeredMLP)
        ProbeModule.__init__(out, tuple(self.mean[layer : layer + 1].shape))
        out.weights = nn.ParameterList([nn.Parameter(w.detach()[layer : layer + 1].clone()) for w in self.weights])
        out.biases = nn.ParameterList([nn.Parameter(b.detach()[layer : layer + 1].clone()) for b in self.biases])
        out.drop = SeededDropout(self.drop.p)
        out.activation = self.activation
        out.set_standardization(self.mean[layer : layer + 1], self.scale[layer : layer + 1])
        return out.to(self.mean.device).eval()


class MLPProbe(TorchProbe):
    """An MLP classifier on pooled features, trained by :func:`probewise.fit.trainer.train`.

    Args:
        hidden_sizes: widths of the 1 or 2 hidden layers.
        dropout: dropout after each hidden activation (seeded; off at inference).
        activation: ``"relu"``, ``"gelu"`` or ``"tanh"``.
        lr, weight_decay, epochs, batch_size, patience, warmup_frac, seed, device: see
            :class:`probewise.fit.trainer.TrainConfig`.

    Fitted attributes: ``module_`` (a :class:`LayeredMLP` with ``L = 1``), ``classes_``, ``n_features_in_``,
    ``n_outputs_`` and ``report_`` (parameters, train_seconds, epochs_run, best_epoch, best_val_loss, ...).

    Example:
        >>> import numpy as np
        >>> from probewise.probes.mlp import MLPProbe
        >>> X = np.random.default_rng(0).normal(size=(100, 3)).astype("float32")
        >>> probe = MLPProbe(hidden_sizes=(4,), epochs=3).fit(X, X[:, 0] > 0)
        >>> probe.report_["parameters"]          # 3*4 + 4 + 4*1 + 1
        21
    """

    _layered = True

    def __init__(self, hidden_sizes: tuple[int, ...] = (128,), dropout: float = 0.1, activation: str = "relu",
                 lr: float = 1e-3, weight_decay: float = 1e-2, epochs: int = 200, batch_size: int = 128,
                 patience: int | None = 20, warmup_frac: float = 0.05, seed: int = 0,
                 device: str | None = None) -> None:
        self.hidden_sizes = hidden_sizes
        self.dropout = dropout
        self.activation = activation
        self.lr = lr
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.patience = patience
        self.warmup_frac = warmup_frac
        self.seed = seed
        self.device = device

    def _build_module(self, n_features: int, n_outputs: int, generator: torch.Generator,
                      n_layers: int = 1) -> LayeredMLP:
        hidden = (self.hidden_sizes,) if isinstance(self.hidden_sizes, int) else tuple(self.hidden_sizes)
        if not 1 <= len(hidden) <= 2 or any(int(h) < 1 for h in hidden):
            raise ConfigError(f"hidden_sizes must be 1 or 2 positive widths, e.g. (128,) or (256, 64); "
                              f"got {self.hidden_sizes!r}.")
        if self.activation not in _ACTIVATIONS:
            raise ConfigError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {self.activation!r}.")
        return LayeredMLP(n_layers, n_features, tuple(int(h) for h in hidden), n_outputs, float(self.dropout),
                          self.activation, generator)

    def fit_layers(self, Xs: Any, y: Any, Xs_val: Any = None, y_val: Any = None) -> list[MLPProbe]:
        """Fit one MLP per layer of ``Xs [L, n, d]`` (shared labels ``y [n]``) in one batched training run.

        The loss is summed over layers (each layer's gradient only depends on its own loss, and AdamW is
        per-coordinate, so this is the same optimization as ``L`` separate runs sharing the minibatch order);
        early stopping waits until every layer has run out of patience and each layer keeps its own best epoch.

        Args:
            Xs: ``[L, n, d]`` features of the same ``n`` examples at ``L`` layers.
            y: ``[n]`` labels.
            Xs_val, y_val: optional ``[L, m, d]`` validation features and ``[m]`` labels (else 10% of ``n``
                is held out, the same examples for every layer).

        Returns:
            ``L`` fitted :class:`MLPProbe` (clones of this one); ``report_["train_seconds"]`` is the time of the
            joint run and ``report_["epochs_run"]`` its epoch count.
        """
        prep = self._prepare(Xs, y, Xs_val, y_val, layered_input=True)
        n_layers = int(prep.train.shape[0])
        module, result = self._fit_module(prep, n_layers=n_layers)
        probes = []
        for layer in range(n_layers):
            probe = clone(self)
            probe._set_fitted(module.select_layer(layer), prep, result, layer=layer, n_layers=n_layers)
            probes.append(probe)
        return probes
