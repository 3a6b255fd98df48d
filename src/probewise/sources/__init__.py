"""Where representations come from: transformers models, or any nn.Module through hooks."""

from probewise.sources.arrays import ArraySource
from probewise.sources.base import Source
from probewise.sources.blocks import find_blocks
from probewise.sources.hf import HFSource
from probewise.sources.module import ModuleSource
from probewise.sources.pooling import POOLINGS, pool

__all__ = ["ArraySource", "HFSource", "ModuleSource", "POOLINGS", "Source", "find_blocks", "pool"]
