"""Training-side dataset readers (pytracking BaseVideoDataset interface) and their catalog.

Import what you need from the sub-modules, e.g. `from lib.train.dataset.catalog import build_train_dataset`.
The torch-free parts shared with evaluation (annotation parsing, file sources and LMDB packs, the GOT-10k split
rule) live in lib/utils/ (annotations.py, file_source.py, got10k_splits.py).
"""
