"""The runtime monitor: probes scoring a running model token by token, with flags, stopping and a cascade.

:mod:`~probewise.monitor.runtime` holds :class:`Monitor` (the hooks on a running transformers model; its module
docstring explains how it works), :mod:`~probewise.monitor.traces` what a monitored run records (:class:`TokenEvent`,
:class:`Trace`), :mod:`~probewise.monitor.streams` each probe's streaming score, and :mod:`~probewise.monitor.view`
a self-contained HTML page of monitor records.
"""

from probewise.monitor.runtime import Monitor
from probewise.monitor.traces import TokenEvent, Trace

__all__ = ["Monitor", "TokenEvent", "Trace"]
