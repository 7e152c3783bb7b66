"""Evaluation datasets: `get_dataset(*names) -> SequenceList` and the `Sequence` type."""
from lib.test.evaluation.data import Sequence, SequenceList
from lib.test.evaluation.datasets import dataset_names, get_dataset

__all__ = ["Sequence", "SequenceList", "get_dataset", "dataset_names"]
