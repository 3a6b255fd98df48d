"""The sweep engine: probes × layers × hyperparameters, selected on validation, scored once on test."""

from probewise.sweep.families import PROBES
from probewise.sweep.results import SweepResult
from probewise.sweep.run import SweepConfig, select_on_val, sweep

__all__ = ["PROBES", "SweepConfig", "SweepResult", "select_on_val", "sweep"]
