"""The generated survey map and leaderboard pages: rows from the metadata file and the registry, never typed."""

from __future__ import annotations


def _record(registry, chapter, headline, status="ok"):
    run = registry.Run(chapter, {"profile": "smoke"}, data="d", models="m")
    run.set("headline", headline)
    run.finish(status)


def test_survey_map_links_chapters_and_marks_the_rest(vadkit_home):
    from vadkit import registry
    from vadkit.pipeline.pages import load_survey, survey_markdown

    _record(registry, "30_lavad", [])
    md = survey_markdown("smoke", ["11_vadclip", "30_lavad", "31_vera"])
    names = [s["name"] for s in load_survey()]
    for n in ("HAWK", "CUVA", "LAVAD", "VadCLIP", "AnomalyCLIP", "MCANet", "VERA", "VAD-LLaMA", "VANE-Bench",
              "Holmes-VAD", "OVVAD", "Ex-VAD", "MLLM-EVAD", "T-VAD"):
        assert n in names and f"| {n} |" in md
    assert "[30_lavad](30_lavad.ipynb) (results: ok)" in md
    assert "[31_vera](31_vera.ipynb) (no smoke results yet)" in md
    hawk = next(line for line in md.splitlines() if line.startswith("| HAWK |"))
    assert "not yet covered" in hawk
    assert "3 of 14 covered" in md


def test_leaderboard_groups_by_dataset_and_shows_the_published_source(vadkit_home):
    from vadkit import registry
    from vadkit.pipeline.pages import leaderboard_markdown

    h = {"method": "LAVAD", "metric": "AUC_O", "value": 0.66, "std": None, "ci": [0.58, 0.75], "seeds": 1,
         "dataset": "SynthVAD", "split": "test", "profile": "smoke",
         "paper": {"value": 80.28, "dataset": "UCF-Crime", "source": "Ex-VAD Table 3 (quoted)"}}
    v = dict(h, method="VERA", value=0.659, std=0.0012, seeds=3, ci=None,
             paper={"value": 86.6, "dataset": "UCF-Crime", "source": "Ex-VAD Table 3 (quoted)"})
    other = dict(h, method="X", dataset="ucf_crime", paper=None)
    _record(registry, "30_lavad", [h])
    _record(registry, "31_vera", [v])
    _record(registry, "99_failed", [other], status="failed")
    md = leaderboard_markdown("smoke")
    assert "## SynthVAD, split `test`" in md and "UCF-Crime, split" not in md     # failed runs are left out
    lav = next(line for line in md.splitlines() if line.startswith("| LAVAD |"))
    assert "66.00" in lav and "[58.0, 75.0]" in lav and "80.28 (UCF-Crime)" in lav and "quoted" in lav
    ver = next(line for line in md.splitlines() if line.startswith("| VERA |"))
    assert "65.90 ± 0.12" in ver and "| 3 |" in ver
    assert md.index("| LAVAD |") < md.index("| VERA |")                     # best first within a metric
