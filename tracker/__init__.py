"""tracker: detection -> tracklet embeddings -> association -> outputs.

from tracker import Tracker
t = Tracker.from_preset("sports", reid="none")
tracked = t.update(detections, frame)   # supervision.Detections in and out, tracker_id set
"""

import cgclip  # noqa: F401, I001  (first: a Ctrl-C while a CLI starts prints one line)
from tracker.config import TrackerConfig, load_preset
from tracker.embedding import (
    CgclipEmbedder,
    Embedder,
    FrameFeatures,
    MeanPoolEmbedder,
    build_embedder,
)
from tracker.tracker import Tracker
from tracker.tracks import TrackInfo, TrackTable

__all__ = [
    "CgclipEmbedder",
    "Embedder",
    "FrameFeatures",
    "MeanPoolEmbedder",
    "TrackInfo",
    "TrackTable",
    "Tracker",
    "TrackerConfig",
    "build_embedder",
    "load_preset",
]
