"""The activation store: safetensors shards + a JSON manifest; resumable writes, memory-mapped reads."""

from probewise.store.ragged import Ragged
from probewise.store.reader import Store, open_store
from probewise.store.writer import StoreWriter

__all__ = ["Ragged", "Store", "StoreWriter", "open_store"]
