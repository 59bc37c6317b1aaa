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
