"""Run configs as files: `probewise extract|sweep --config run.yaml` (YAML or TOML), and the resolved config
written beside every run's results so it can be repeated with one command.

Example:
    >>> import tempfile, pathlib
    >>> from probewise.runconfig import load_config
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "run.toml"
    >>> _ = p.write_text('model = "default"\\nlayers = "0,3"\\n')
    >>> load_config(p)
    {'model': 'default', 'layers': '0,3'}
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml

from probewise.errors import ConfigError


def load_config(path: str | Path) -> dict:
    """Read a YAML (.yaml/.yml) or TOML (.toml) file holding one mapping of option names to values."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist.")
    text = path.read_text()
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text) or {}
        else:
            raise ConfigError(f"config file {path} must end in .yaml, .yml or .toml.")
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"could not parse {path}: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of option names to values, not {type(data).__name__}.")
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def apply_config(parser, sub, argv: list[str], config: dict, command: str) -> None:
    """Make the config's values the defaults of `command`'s flags; flags given on the command line still win."""
    known = {a.dest: a for a in sub.choices[command]._actions if a.dest not in ("help", "config")}
    unknown = sorted(set(config) - set(known))
    if unknown:
        raise ConfigError(f"unknown option(s) {unknown} in the config for `{command}`; valid: {sorted(known)}.")
    defaults = {}
    for k, v in config.items():
        if isinstance(v, list | tuple) and known[k].nargs not in ("+", "*"):
            v = ",".join(str(x) for x in v)
        defaults[k] = v
    sub.choices[command].set_defaults(**defaults)
    for action in sub.choices[command]._actions:
        if action.dest in defaults:
            action.required = False


def write_config(path: str | Path, command: str, values: dict) -> Path:
    """Write the resolved options of a run as YAML: `probewise <command> --config <path>` repeats it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean = {k: v for k, v in values.items() if v is not None and k not in ("func", "command", "config")}
    header = f"# probewise {command}: repeat with `probewise {command} --config {path.name}`\n"
    path.write_text(header + yaml.safe_dump(clean, sort_keys=False))
    return path
