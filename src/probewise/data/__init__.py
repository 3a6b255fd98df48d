"""Datasets: local files, image folders, HF datasets, splits, and the built-in diagnostic tasks."""

from probewise.data.examples import Examples
from probewise.data.files import load_hf_dataset, load_image_folder, load_table
from probewise.data.labels import encode_labels
from probewise.data.splits import SPLIT_NAMES, stratified_split

__all__ = ["Examples", "SPLIT_NAMES", "encode_labels", "load_hf_dataset", "load_image_folder", "load_table",
           "stratified_split"]
