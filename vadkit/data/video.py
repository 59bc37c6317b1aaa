"""Video IO: decord first, PyAV as fallback; writing mp4 files.

(Reading API is completed by the data-layer work; :func:`write_video` is used by SynthVAD.)
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from vadkit.errors import VideoReadError


def write_video(path: str | os.PathLike, frames: np.ndarray, fps: float) -> Path:
    """Write ``frames`` ``[T, H, W, 3]`` uint8 RGB to an mp4 (MPEG-4 Part 2, ``mp4v``), atomically.

    The file appears under its final name only once it is complete, so a crash never leaves a
    truncated video behind.
    """
    import cv2

    path = Path(path)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"{path}: frames must be uint8 [T, H, W, 3], got {frames.dtype} {frames.shape}")
    if len(frames) == 0:
        raise ValueError(f"{path}: refusing to write a video with zero frames")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    height, width = frames.shape[1:3]
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (width, height))
    if not writer.isOpened():
        raise VideoReadError(path, "OpenCV could not open an mp4v writer")
    try:
        for frame in frames:
            writer.write(np.ascontiguousarray(frame[..., ::-1]))  # RGB -> BGR
    finally:
        writer.release()
    os.replace(tmp, path)
    return path
