"""The on-disk layout of an activation store: names and schema version, in one place.

```
store/
  manifest.json            identity (model, dataset, layers, pooling, dtype), shards, checksums, config
  examples.safetensors     labels [n] int64, split [n] int8 (0 train, 1 val, 2 test), groups [n] int64
  texts.jsonl              the raw texts, one JSON string per line (text datasets; for text baselines)
  shards/shard-00000.safetensors
      layer.<name>         [rows, d]   pooled, or [tokens, d] with pooling 'tokens'
      offsets              [rows + 1]  int64, pooling 'tokens' only
      token_ids            [tokens]    int64, pooling 'tokens' on text only
  .lock                    held by the writing process
```
"""

from __future__ import annotations

FORMAT = "probewise-store"
SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
EXAMPLES = "examples.safetensors"
TEXTS = "texts.jsonl"
SHARD_DIR = "shards"


def shard_file(k: int) -> str:
    return f"{SHARD_DIR}/shard-{k:05d}.safetensors"


def layer_key(name: str) -> str:
    return f"layer.{name}"
