"""The chapter platform's rules, checked on the source: layers, one config per chapter, thin notebooks."""

from __future__ import annotations

import ast
import importlib
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PKG = REPO / "vadkit"

# what each layer may import from vadkit (imports point down; argtypes is a leaf of argparse types for the CLI modules)
LOWER = {
    "data": {"data", "errors", "io_utils", "paths", "identity", "__version__", "argtypes"},
    "metrics": {"metrics", "data", "errors", "io_utils", "paths"},
    "models": {"models", "data", "errors", "io_utils", "paths", "identity", "trainer", "metrics", "registry",
               "argtypes"},
    "features": {"features", "models", "data", "errors", "io_utils", "paths", "identity", "__version__", "argtypes"},
    "methods": {"methods", "models", "metrics", "features", "data", "errors", "io_utils", "paths", "identity",
                "trainer"},
    "experiment": {"experiment", "methods", "models", "metrics", "features", "data", "errors", "io_utils", "paths",
                   "identity", "trainer", "registry", "papers", "config", "plotting", "__version__"},
}


def _vadkit_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("vadkit"):
            parts = node.module.split(".")
            if len(parts) > 1:
                out.add(parts[1])
            else:
                out.update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("vadkit."):
                    out.add(a.name.split(".")[1])
    return out


@pytest.mark.parametrize("layer", sorted(LOWER))
def test_imports_point_down(layer):
    bad = {}
    for f in sorted((PKG / layer).rglob("*.py")):
        up = _vadkit_imports(f) - LOWER[layer]
        if up:
            bad[str(f.relative_to(REPO))] = sorted(up)
    assert not bad, f"{layer}/ imports from layers above it: {bad}"


def test_no_chapter_imports_another_chapter():
    bad = {}
    for f in sorted((PKG / "chapters").glob("*.py")):
        tree = ast.parse(f.read_text())
        for node in ast.walk(tree):
            mods = []
            if isinstance(node, ast.ImportFrom) and node.module:
                mods = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            for m in mods:
                if m.startswith("vadkit.chapters.") and m.split(".")[2] != f.stem:
                    bad.setdefault(f.name, []).append(m)
    assert not bad, bad


def _chapter_configs() -> dict[str, type]:
    from vadkit.config import ChapterConfig

    out = {}
    for f in sorted((PKG / "chapters").glob("*.py")):
        if f.stem == "__init__":
            continue
        mod = importlib.import_module(f"vadkit.chapters.{f.stem}")
        for obj in vars(mod).values():
            if isinstance(obj, type) and issubclass(obj, ChapterConfig) and obj.CHAPTER and \
                    obj.__module__ == mod.__name__:
                out[obj.CHAPTER] = obj
    return out


def test_every_notebook_has_one_config_and_its_parameters_cell_agrees():
    from vadkit.pipeline.notebooks import parameter_names

    configs = _chapter_configs()
    for nb in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert nb.stem in configs, f"{nb.name}: no config class with CHAPTER = {nb.stem!r} in vadkit/chapters"
        names = parameter_names(nb)
        assert names == ["profile"] + configs[nb.stem].fields(), (
            f"{nb.name}: the parameters cell must list profile and every field of {configs[nb.stem].__name__} "
            f"in order (vadkit.experiment.chapter.parameters_cell writes it)")


def test_notebook_code_lines_fit_the_page():
    """Code cells of every chapter stay within 100 characters a line (the book's code width)."""
    long = {}
    for nb in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for cell in json.loads(nb.read_text())["cells"]:
            if cell["cell_type"] != "code" or "parameters" in cell.get("metadata", {}).get("tags", []):
                continue
            for line in "".join(cell["source"]).splitlines():
                if len(line) > 100:
                    long.setdefault(nb.name, []).append(line)
    assert not long, long


def test_config_tables_show_paper_and_code_values():
    from vadkit.chapters.vadclip import VadCLIPConfig
    from vadkit.experiment.chapter import config_table

    t = config_table(VadCLIPConfig.resolve("full"))
    assert {"in effect", "smoke", "full", "paper", "official code"} <= set(t.columns)
    assert t.loc["max_len", "in effect"] == "256" and t.loc["max_len", "smoke"] == "32"
    assert "threads" not in t.index                     # housekeeping stays out of the reader's table
