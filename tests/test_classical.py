import numpy as np
import pytest

from vadkit.methods.classical import (
    FlowGridModel,
    cell_features,
    frame_difference_scores,
    moving_average,
    optical_flow,
)


def _moving_square(direction: int, n: int = 20, speed: int = 3, seed: int = 0) -> np.ndarray:
    """A textured square crossing a noisy background horizontally: [n, 60, 80, 3] uint8."""
    rng = np.random.default_rng(seed)
    bg = rng.integers(90, 110, size=(60, 80, 3), dtype=np.uint8)
    tex = rng.integers(0, 255, size=(12, 12, 3), dtype=np.uint8)
    frames = np.repeat(bg[None], n, axis=0).copy()
    for t in range(n):
        x = 10 + speed * t if direction > 0 else 58 - speed * t
        frames[t, 24:36, x:x + 12] = tex
    return frames


def test_frame_difference_is_zero_for_static_video_and_positive_with_motion():
    static = np.full((5, 60, 80, 3), 120, np.uint8)
    assert np.allclose(frame_difference_scores(static), 0)
    moving = _moving_square(+1)
    s = frame_difference_scores(moving)
    assert s.shape == (20,) and (s[1:] > 0).all()


def test_optical_flow_sees_the_direction():
    flow = optical_flow(_moving_square(+1), width=80)
    assert flow.shape == (20, 60, 80, 2)
    region = flow[5:, 24:36, :, 0]
    assert region[np.abs(region) > 0.5].mean() > 0.5  # moving right: u > 0


def test_flow_grid_flags_wrong_way_motion():
    train = [optical_flow(_moving_square(+1, seed=s), width=80) for s in range(3)]
    model = FlowGridModel(grid=(3, 4)).fit(train)
    normal = model.score(optical_flow(_moving_square(+1, seed=9), width=80))
    wrong_way = model.score(optical_flow(_moving_square(-1, seed=9), width=80))
    assert np.median(wrong_way) > 2 * np.median(normal)


def test_cell_features_shape_and_mean():
    flow = np.zeros((2, 12, 16, 2), np.float32)
    flow[..., 0] = 1.0
    f = cell_features(flow, (3, 4))
    assert f.shape == (2, 12, 3)
    assert np.allclose(f[..., 0], 1.0) and np.allclose(f[..., 2], 1.0)


def test_moving_average_keeps_length_and_constants():
    x = np.array([1.0, 1.0, 1.0, 5.0, 1.0, 1.0])
    y = moving_average(x, 3)
    assert y.shape == x.shape and y[3] == pytest.approx(7 / 3)
    assert np.allclose(moving_average(np.ones(7), 5), 1.0)


def test_fit_without_data_fails_clearly():
    with pytest.raises(ValueError, match="no training frames"):
        FlowGridModel().fit([])


def test_fit_flow_grid_fits_once_per_files_and_refits_a_changed_file(tmp_path):
    from vadkit.data.video import write_video
    from vadkit.methods.classical import FlowGridModel, fit_flow_grid, optical_flow

    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    write_video(a, _moving_square(1, 12), fps=10)
    write_video(b, _moving_square(-1, 12), fps=10)
    m = fit_flow_grid([a, b], (2, 2), width=32)
    assert fit_flow_grid([str(a), str(b)], (2, 2), width=32) is m          # the same fit, not a second one
    assert fit_flow_grid([a, b], (3, 3), width=32) is not m                # other settings: another fit
    from vadkit.data.video import VideoReader

    direct = FlowGridModel(grid=(2, 2)).fit(optical_flow(VideoReader(p).read_all(), 32) for p in (a, b))
    np.testing.assert_allclose(m.mean_, direct.mean_)
    write_video(a, _moving_square(1, 16), fps=10)                           # rewritten: its fit is stale
    assert fit_flow_grid([a, b], (2, 2), width=32) is not m
