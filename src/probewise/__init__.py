"""probewise: probe frozen models layer by layer, honestly and fast.

The public API is re-exported here and imported on first use (PEP 562), so ``import probewise`` and the command
line start without loading torch until a command needs it.

Example:
    >>> import probewise as pw
    >>> isinstance(pw.__version__, str), callable(pw.sweep), 'sweep' in dir(pw)
    (True, True, True)
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from probewise._version import __version__
from probewise.errors import ConfigError, DataError, ProbeError, ProbewiseError, SourceError, StoreError

#: Public name → the module that defines it (imported when the name is first read).
_LAZY = {
    "Examples": "probewise.data", "load_hf_dataset": "probewise.data", "load_image_folder": "probewise.data",
    "load_table": "probewise.data",
    "ExtractConfig": "probewise.extract", "extract": "probewise.extract", "run_extract": "probewise.extract",
    "write_features": "probewise.extract",
    "HFSource": "probewise.sources", "ModuleSource": "probewise.sources",
    "Ragged": "probewise.store", "Store": "probewise.store", "open_store": "probewise.store",
    "SweepConfig": "probewise.sweeps", "SweepResult": "probewise.sweeps", "sweep": "probewise.sweeps",
}

__all__ = [
    "ConfigError", "DataError", "ProbeError", "ProbewiseError", "SourceError", "StoreError", "__version__",
    *_LAZY,
]

if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from probewise.data import Examples, load_hf_dataset, load_image_folder, load_table  # noqa: F401
    from probewise.extract import ExtractConfig, extract, run_extract, write_features  # noqa: F401
    from probewise.sources import HFSource, ModuleSource  # noqa: F401
    from probewise.store import Ragged, Store, open_store  # noqa: F401
    from probewise.sweeps import SweepConfig, SweepResult, sweep  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'probewise' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later reads skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


class _Package(types.ModuleType):
    """The package module, which keeps ``probewise.extract`` the function: importing the submodule of the same
    name would otherwise set the package attribute to the module (as the eager re-export used to overwrite it)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _LAZY and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
