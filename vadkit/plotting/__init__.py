"""Figures: score curves with ground truth, frames with boxes/masks, heatmap overlays.

Sub-modules per area (``core`` here; ``metrics``, ``models``, ``methods`` beside it) so the modules
that draw them stay small.
"""

from vadkit.plotting.core import (  # noqa: F401
    draw_boxes,
    draw_instance_map,
    frame_grid,
    overlay_heatmap,
    plot_score_curve,
)
