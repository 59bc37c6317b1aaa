"""Write environment.yml from pyproject.toml so the two never disagree (tests/test_packaging.py checks).

Usage: python scripts/sync_environment.py [--check]
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

HEADER = """\
# Conda environment for vadkit. Generated from pyproject.toml by scripts/sync_environment.py:
# edit pyproject.toml, then run `python scripts/sync_environment.py`. The pip section lists exactly
# the dependencies of `pip install -e .[all]` (core + book + test + llm extras).
# Create: conda env create -f environment.yml && conda activate vadkit
# On a CPU-only build machine, pip takes torch 2.14.1 + torchvision 0.29.1 (see README).
# Then, as the Makefile does: pip install --no-deps "trackers==2.6.1" "supervision==0.31.2"
# (they declare opencv-python, which would overwrite opencv-python-headless's cv2).
name: vadkit
channels:
  - conda-forge
dependencies:
  - python=3.11
  - pip
  - pip:
"""


def all_extras(meta: dict) -> list[str]:
    """The extras that ``vadkit[all]`` names (``all = ["vadkit[book,test,llm]"]`` -> book, test, llm)."""
    (req,) = meta["optional-dependencies"]["all"]
    return [e.strip() for e in req[req.index("[") + 1:req.index("]")].split(",")]


def requirements() -> list[str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(meta["dependencies"])
    for extra in all_extras(meta):
        reqs += meta["optional-dependencies"][extra]
    return reqs


def render() -> str:
    lines = [HEADER]
    lines += [f'      - "{r}"\n' for r in requirements()]
    lines.append('      - "-e ."\n')
    return "".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="exit 1 if environment.yml is out of date")
    args = ap.parse_args()
    text = render()
    path = ROOT / "environment.yml"
    if args.check:
        ok = path.exists() and path.read_text() == text
        print("environment.yml is up to date" if ok else "environment.yml differs from pyproject.toml")
        return 0 if ok else 1
    path.write_text(text)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
