"""benchmarks/world_probe.py: its SynthConfig overrides and the frozen trunk's pooled read-outs."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from conftest import REPO
from vadkit.errors import ConfigError


@pytest.fixture(scope="module")
def wp():
    spec = importlib.util.spec_from_file_location("world_probe", REPO / "benchmarks" / "world_probe.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_overrides_parse_json_values_and_name_a_bad_key(wp):
    assert wp.parse_overrides(["car_rate=0.004", "scenes=[\"street\"]", "width=320"]) == {
        "car_rate": 0.004, "scenes": ["street"], "width": 320}
    with pytest.raises(ConfigError, match="'carrate=1'.*car_rate"):
        wp.parse_overrides(["carrate=1"])
    with pytest.raises(ConfigError, match="key=value"):
        wp.parse_overrides(["car_rate"])


def test_pooled_readouts_cover_both_stages_and_see_a_small_object(wp):
    from vadkit.models.lit import new_lit
    from vadkit.models.zoo import LitTrainConfig

    tower = new_lit(LitTrainConfig().head_config(), name="frozen trunk")
    frames = np.full((3, 120, 160, 3), 90, np.uint8)
    frames[1, 50:68, 70:78] = (230, 40, 40)          # one person-sized blob
    f = wp.pooled_features(tower, frames, (192, 256), batch=2)
    assert f.shape == (3, 864)
    assert sum(s.stop - s.start for s in list(wp.READOUTS.values())[:2]) == 864
    assert np.allclose(f[0], f[2], atol=1e-4)        # same frame, same features, whatever the batch
    s5_max = wp.READOUTS["stage 5 (max + mean)"]
    assert np.abs(f[1, s5_max] - f[0, s5_max]).max() > 0.1  # the blob moves the stride-16 max-pool
