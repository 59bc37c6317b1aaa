"""Which objects of a frame interact: the pseudo-depth pair rule of MLLM-EVAD (Mumcu et al., 2025).

The paper body was not available; the rule below is the one third-party summaries give
(``../shared/reference/datasets.md``). For two boxes with reference points ``(x1, y1)`` and ``(x2, y2)``:

.. math::

    z = |y_1 - y_2|, \\qquad d = \\lVert (x_1, y_1, z) - (x_2, y_2, 0) \\rVert_2, \\qquad
    \\text{pair} \\iff d < h

The vertical offset counts twice (once in the plane, once as the pseudo-depth ``z``): in a camera looking
down a scene, objects one above the other in the image stand at different depths, so they must be closer
in the image than side-by-side objects to count as interacting.

Choices where the sources are silent (the MLLM-EVAD chapter states them):

* the reference point is the **bottom centre** of the box (where the object touches the ground, so its
  image ``y`` orders depth);
* ``h`` is the **larger of the two box heights** times ``h_scale`` (default 1): "within one body height"
  of each other, a scale that follows the objects' apparent size as they move in depth.

SynthVAD's ground-truth activity text (:mod:`vadkit.data.synth.activity`) and the MLLM-EVAD chapter both
call :func:`pair_distance` / :func:`interacting_pairs`, so the oracle-text rows line up with the pairs the
chapter forms from its own boxes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

Box = Sequence[float]  # (x1, y1, x2, y2), pixels, x2/y2 one past the last pixel


def bottom_centre(box: Box) -> tuple[float, float]:
    """``(x, y)`` reference point of a box: the middle of its bottom edge."""
    x1, _y1, x2, y2 = (float(v) for v in box[:4])
    return 0.5 * (x1 + x2), y2


def pair_distance(a: Box, b: Box, h_scale: float = 1.0) -> tuple[float, float]:
    """``(d, h)`` of two boxes: pseudo-depth distance ``d`` and threshold ``h`` (see the module docstring).

    The two boxes form a pair when ``d < h``.
    """
    (xa, ya), (xb, yb) = bottom_centre(a), bottom_centre(b)
    z = abs(ya - yb)
    d = math.sqrt((xa - xb) ** 2 + (ya - yb) ** 2 + z * z)
    h = h_scale * max(float(a[3]) - float(a[1]), float(b[3]) - float(b[1]))
    return d, h


def interacting_pairs(boxes: Mapping[int, Box], h_scale: float = 1.0) -> list[tuple[int, int, float, float]]:
    """All pairs ``(i, j, d, h)`` with ``i < j`` and ``d < h`` among the boxes of one frame (``{id: box}``),
    sorted by ids."""
    ids = sorted(boxes)
    out = []
    for n, i in enumerate(ids):
        for j in ids[n + 1:]:
            d, h = pair_distance(boxes[i], boxes[j], h_scale)
            if d < h:
                out.append((i, j, d, h))
    return out


# ----------------------------------------------------------------------------------------------
# crops C_t and C_{t+delta} (MLLM-EVAD: "crops that tightly enclose the object(s) at both moments")
# ----------------------------------------------------------------------------------------------
def crop_box(boxes: Sequence[Box], frame_shape, margin: float = 0.5, min_side: int = 32) -> tuple[int, int, int, int]:
    """Square box ``(x1, y1, x2, y2)`` that encloses every box of ``boxes`` (the object, or both objects of a
    pair, at ``t`` and at ``t + delta``), its side ``max(w, h) * (1 + margin)`` and at least ``min_side`` px,
    centred on the union. It may extend past the frame (:func:`crop_pair` pads with zeros).

    Why square and with context: a square crop resizes to the describer's input without distortion, so a
    lying person stays wider than tall; ``margin`` and ``min_side`` keep some ground around an ~18-px person,
    which is where "on the road" or "on the bench" is visible. ``frame_shape`` ``(H, W, ...)`` only checks
    that the union meets the frame.
    """
    if not len(boxes):
        raise ValueError("crop_box needs at least one box")
    x1 = min(float(b[0]) for b in boxes)
    y1 = min(float(b[1]) for b in boxes)
    x2 = max(float(b[2]) for b in boxes)
    y2 = max(float(b[3]) for b in boxes)
    H, W = int(frame_shape[0]), int(frame_shape[1])
    if x2 <= 0 or y2 <= 0 or x1 >= W or y1 >= H or x2 <= x1 or y2 <= y1:
        raise ValueError(f"boxes {list(boxes)} do not meet a {W} x {H} frame")
    side = max(max(x2 - x1, y2 - y1) * (1.0 + margin), float(min_side))
    cx, cy = 0.5 * (x1 + x2), 0.5 * (y1 + y2)
    a, b = int(round(cx - side / 2)), int(round(cy - side / 2))
    s = int(round(side))
    return a, b, a + s, b + s


def _crop_padded(frame, box, size: int):
    import cv2
    import numpy as np

    frame = np.asarray(frame)
    H, W = frame.shape[:2]
    a, b, c, d = box
    out = np.zeros((d - b, c - a, 3), dtype=np.uint8)
    sa, sb, sc, sd = max(a, 0), max(b, 0), min(c, W), min(d, H)
    if sc > sa and sd > sb:
        out[sb - b:sd - b, sa - a:sc - a] = frame[sb:sd, sa:sc, :3]
    return cv2.resize(out, (size, size), interpolation=cv2.INTER_AREA if (c - a) > size else cv2.INTER_LINEAR)


def crop_pair(frame_t, frame_t1, box, size: int = 48):
    """The two crops ``C_t``, ``C_{t+delta}``: uint8 ``[size, size, 3]`` each, the same ``box`` (from
    :func:`crop_box`) cut from both frames (zeros outside the frame), so motion shows as displacement inside
    the crop."""
    return _crop_padded(frame_t, box, size), _crop_padded(frame_t1, box, size)
