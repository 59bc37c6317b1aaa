"""Rewrite every chapter notebook's ``parameters`` cell from its config class (vadkit/chapters).

The cell lists ``profile`` and every config field set to ``None`` (papermill overrides any of them; ``None`` means
"the profile's value"); ``tests/test_chapters.py`` checks that the two agree. Usage: python scripts/sync_parameters.py
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def configs() -> dict[str, type]:
    from vadkit.config import ChapterConfig

    out = {}
    for f in sorted((REPO / "vadkit" / "chapters").glob("*.py")):
        mod = importlib.import_module(f"vadkit.chapters.{f.stem}")
        for obj in vars(mod).values():
            if isinstance(obj, type) and issubclass(obj, ChapterConfig) and obj.CHAPTER and obj.__module__ == mod.__name__:
                out[obj.CHAPTER] = obj
    return out


def main() -> None:
    from vadkit.experiment.chapter import parameters_cell

    cfgs = configs()
    for nb in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        if nb.stem not in cfgs:
            print(f"{nb.name}: no config class, skipped")
            continue
        doc = json.loads(nb.read_text())
        cell = next(c for c in doc["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
        lines = parameters_cell(cfgs[nb.stem]).split("\n")
        new = [ln + "\n" for ln in lines[:-1]] + [lines[-1]]
        if cell["source"] != new:
            cell["source"] = new
            nb.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
            print(f"{nb.name}: parameters cell updated")


if __name__ == "__main__":
    main()
