"""Shared I/O used by both ``cgclip`` and ``tracker``: atomic writes, MOTChallenge files, video."""

from cgclip.io.atomic import atomic_path, atomic_write_bytes, atomic_write_json, atomic_write_text
from cgclip.io.mot import (
    SeqInfo,
    frames_of,
    read_mot,
    read_seqinfo,
    read_seqmap,
    write_mot,
    write_seqinfo,
    write_seqmap,
)
from cgclip.io.video import VideoInfo, VideoReader, VideoWriter, open_video

__all__ = [
    "SeqInfo",
    "VideoInfo",
    "VideoReader",
    "VideoWriter",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "frames_of",
    "open_video",
    "read_mot",
    "read_seqinfo",
    "read_seqmap",
    "write_mot",
    "write_seqinfo",
    "write_seqmap",
]
