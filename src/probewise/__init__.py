"""probewise: probe frozen models layer by layer, honestly and fast."""

from probewise._version import __version__
from probewise.data import Examples, load_hf_dataset, load_image_folder, load_table
from probewise.errors import ConfigError, DataError, ProbeError, ProbewiseError, SourceError, StoreError
from probewise.extract import ExtractConfig, extract, run_extract, write_features
from probewise.sources import HFSource, ModuleSource
from probewise.store import Ragged, Store, open_store
from probewise.sweeps import SweepConfig, SweepResult, sweep

__all__ = [
    "ConfigError", "DataError", "Examples", "ExtractConfig", "HFSource", "ModuleSource", "ProbeError",
    "ProbewiseError", "Ragged", "SourceError", "Store", "StoreError", "SweepConfig", "SweepResult", "__version__",
    "extract", "load_hf_dataset", "load_image_folder", "load_table", "open_store", "run_extract", "sweep",
    "write_features",
]
