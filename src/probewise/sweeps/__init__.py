"""The sweep engine: probes × layers × hyperparameters, selected on validation, scored once on test."""

from probewise.sweeps.families import PROBES
from probewise.sweeps.results import SweepResult
from probewise.sweeps.run import SweepConfig, select_on_val, sweep

__all__ = ["PROBES", "SweepConfig", "SweepResult", "select_on_val", "sweep"]
