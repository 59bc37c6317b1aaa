"""The evaluation suite: every metric the seed papers report, each convention a named option.

Stable entry points (chapter 01 explains each convention and how far it moves the numbers)::

    evaluate_frame_level(scores: dict[str, np.ndarray], annotations: DatasetAnnotations, *,
                         gt_convention="exact", expand="repeat", snippet_len=16, align="error",
                         windows=32, macro_policy="ubnormal", per_class=True, missing="warn") -> dict
    detection_map(predictions, gt_segments, gt_labels, classes, *,
                  iou_thresholds=(0.1, 0.2, 0.3, 0.4, 0.5), convention="vadclip") -> dict
    rbdc_tbdc(gt_tracks, detections, num_frames, *, beta=0.1, alpha=0.1) -> (rbdc, tbdc)
    bleu4(hypotheses, references, *, backend="nltk") / yes_no_accuracy / balanced_accuracy

Sub-modules: :mod:`~vadkit.metrics.frame` (ground truth, expansion, AUC/AP), :mod:`~vadkit.metrics.temporal`
(mAP@IoU), :mod:`~vadkit.metrics.spatial` (RBDC/TBDC, heatmaps to regions), :mod:`~vadkit.metrics.text`
(BLEU, Yes/No accuracy).
"""

from vadkit.metrics.frame import (  # noqa: F401
    ALIGN_POLICIES,
    AP_ESTIMATORS,
    EXPAND_METHODS,
    GT_CONVENTIONS,
    MACRO_POLICIES,
    GTConvention,
    UndefinedMetricWarning,
    abnormal_video_ids,
    align_lengths,
    average_precision,
    average_precisions,
    build_frame_gt,
    check_scores,
    class_wise_auc_a,
    evaluate_frame_level,
    expand_scores,
    frame_arrays,
    video_centred_gaussian,
    get_gt_convention,
    gt_length,
    macro_auc,
    micro_auc,
    per_video_auc,
    roc_auc,
)
from vadkit.metrics.temporal import (  # noqa: F401
    class_proposals,
    video_proposals,
    detection_map,
    interval_iou,
    nms_1d,
    runs_above,
)
from vadkit.metrics.spatial import (  # noqa: F401
    DET_COLUMNS,
    GT_COLUMNS,
    box_iou_plus1,
    heatmap_to_regions,
    heatmaps_to_detections,
    rbdc_tbdc,
    rbdc_tbdc_curves,
    read_detection_files,
    read_track_files,
    tracks_table,
)
from vadkit.metrics.text import (  # noqa: F401
    BACKENDS as BLEU_BACKENDS,
    backend_available,
    balanced_accuracy,
    bleu4,
    bleu4_per_video,
    normalize_yes_no,
    yes_no_accuracy,
)
