"""Datasets for video person re-identification, and the synthetic sports/dance generator."""

from cgclip.data.tracklets import ReidDataset, Tracklet

__all__ = ["ReidDataset", "Tracklet"]
