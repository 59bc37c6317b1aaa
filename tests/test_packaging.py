"""The project's own files must install it: pyproject and environment.yml agree; notebooks are clean."""

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!~;\[ ]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_matches_pyproject():
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = meta["optional-dependencies"]
    (all_req,) = extras["all"]
    wanted = list(meta["dependencies"])
    for extra in re.search(r"\[(.*)\]", all_req).group(1).split(","):
        wanted += extras[extra.strip()]
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    listed = [r for r in pip_section if not r.startswith("-e")]
    assert sorted(listed) == sorted(wanted), "run: python scripts/sync_environment.py"
    assert {_name(r) for r in listed} == {_name(r) for r in wanted}
    assert any(str(d).startswith("python") for d in env["dependencies"])


def test_sync_script_agrees():
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "sync_environment.py"), "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_known_install_pitfalls_are_pinned():
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    text = json.dumps(deps)
    assert "jupyter-book>=1.0,<2" in text  # v2 downloads its theme at build time
    assert "opencv-python-headless>=4.8,<5" in text  # 5.x drops HOG and Haar cascades


def test_notebooks_are_committed_clean_and_parameterised():
    notebooks = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert notebooks, "no chapter notebooks"
    for path in notebooks:
        nb = json.loads(path.read_text())
        cells = nb["cells"]
        tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, f"{path.name}: needs exactly one cell tagged 'parameters'"
        src = "".join(tagged[0]["source"])
        assert re.search(r'^profile = "smoke"$', src, re.M), f"{path.name}: parameters cell must default to smoke"
        for c in cells:
            if c["cell_type"] == "code":
                assert not c.get("outputs") and c.get("execution_count") is None, f"{path.name}: committed with outputs"


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    assert "make test" in readme and "make book" in readme
    assert "make test" in ci
