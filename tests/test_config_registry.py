from dataclasses import dataclass

import json

import pytest

from vadkit import registry
from vadkit.config import ChapterConfig
from vadkit.errors import ConfigError
from vadkit.io_utils import atomic_write, atomic_write_json


@dataclass
class DemoConfig(ChapterConfig):
    CHAPTER = "99_demo"
    FULL = {"dataset": "ucf_crime", "epochs": 10}
    dataset: str = "synthvad"
    epochs: int = 2
    lr: float = 2e-5
    seeds: tuple[int, ...] = (0, 1, 2)
    data_root: str | None = None
    use_text: bool = True


def test_profiles_differ_only_in_values():
    smoke = DemoConfig.resolve("smoke")
    full = DemoConfig.resolve("full")
    assert (smoke.dataset, smoke.epochs) == ("synthvad", 2)
    assert (full.dataset, full.epochs, full.lr) == ("ucf_crime", 10, 2e-5)
    assert type(smoke) is type(full)


def test_overrides_are_coerced_like_papermill_values():
    cfg = DemoConfig.resolve("smoke", epochs="5", lr=1, seeds="0, 3", use_text="false", data_root="/x")
    assert cfg.epochs == 5 and isinstance(cfg.epochs, int)
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float)
    assert cfg.seeds == (0, 3)
    assert cfg.use_text is False
    assert cfg.data_root == "/x"


def test_from_namespace_ignores_none():
    ns = {"profile": "full", "epochs": None, "lr": 0.5, "unrelated": 1}
    cfg = DemoConfig.from_namespace("full", ns)
    assert cfg.epochs == 10 and cfg.lr == 0.5


@pytest.mark.parametrize("kwargs, match", [
    ({"epochs": "ten"}, "epochs: expected int"),
    ({"epochs": 2.5}, "epochs: expected int"),
    ({"bogus": 1}, "unknown parameter"),
    ({"use_text": "maybe"}, "expected a bool"),
])
def test_bad_parameters_name_the_field(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        DemoConfig.resolve("smoke", **kwargs)


def test_unknown_profile():
    with pytest.raises(ConfigError, match="unknown profile 'medium'"):
        DemoConfig.resolve("medium")


def test_registry_run_records_everything(vadkit_home):
    import pandas as pd

    cfg = DemoConfig.resolve("smoke")
    run = registry.Run(cfg.CHAPTER, cfg, data="SynthVAD test", models="zoo:tiny-clip")
    run.log_metric("auc", 0.875)
    run.log_metric("nan_metric", float("nan"))
    run.log_table("t1", pd.DataFrame({"method": ["a", "b"], "auc": [0.5, 0.75]}), caption="demo")
    rec = registry.load("99_demo", "smoke")
    assert rec["status"] == "running" and rec["metrics"]["auc"] == 0.875  # flushed before finish
    out = run.finish()
    rec = registry.load("99_demo", "smoke")
    assert rec["status"] == "ok" and rec["wall_time_s"] >= 0 and out["finished"]
    assert rec["metrics"]["nan_metric"] is None
    assert rec["seeds"] == [0, 1, 2]
    assert rec["versions"]["torch"]
    assert registry.table_frame(rec, "t1")["auc"].tolist() == [0.5, 0.75]
    assert list(registry.load_all("smoke")) == ["99_demo"]
    assert len(list((run.path.parent / "history").glob("smoke-*.json"))) == 1


def test_atomic_write_keeps_old_file_on_crash(tmp_path):
    path = tmp_path / "r.json"
    atomic_write_json(path, {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic_write(path, "w") as fh:
            fh.write('{"a": 2, "trunc')
            raise RuntimeError("crash mid-write")
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
