"""Training-side dataset readers (pytracking BaseVideoDataset interface) and their catalog.

Import what you need from the sub-modules, e.g. `from lib.train.dataset.catalog import build_train_dataset`.
This package file imports nothing, so torch-free modules (annotations, file_source, got10k_splits) stay usable
from evaluation and analysis code without loading torch.
"""
