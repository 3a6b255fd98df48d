"""The model side: loading checkpoints (whole, partial, offloaded) and reading their safetensors files."""

from probewise.model.checkpoint import Checkpoint
from probewise.model.loading import LoadPlan, fingerprint, load_base_model

__all__ = ["Checkpoint", "LoadPlan", "fingerprint", "load_base_model"]
