"""Datasets for video person re-identification, and the synthetic sports/dance generator."""

from cgclip.data.registry import DATASETS, list_datasets, load_dataset
from cgclip.data.tracklets import ReidDataset, Tracklet

__all__ = ["DATASETS", "ReidDataset", "Tracklet", "list_datasets", "load_dataset"]
