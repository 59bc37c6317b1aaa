"""The papermill runner and the book builder, on two tiny throwaway notebooks (one fails)."""

import json

import nbformat
import pytest

from vadkit.cli import main
from vadkit.errors import ConfigError
from vadkit.pipeline.book import build_book, results_markdown
from vadkit.pipeline.notebooks import parameter_names, resolve, run_notebook


def _notebook(path, body: str, params: str = 'profile = "smoke"\nscale = None'):
    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell(params)
    p.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Demo"), p, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.fixture
def chapters(tmp_path):
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    _notebook(nbdir / "00_ok.ipynb", "from vadkit import registry\n"
              "run = registry.Run('00_ok', {'profile': profile, 'scale': scale})\n"
              "run.log_metric('answer', 42 * (scale or 1))\nrun.log_table('t', {'columns': ['a'], 'rows': [[1]]})\n"
              "run.finish()\nprint('profile', profile)")
    _notebook(nbdir / "01_broken.ipynb", "raise ValueError('chapter exploded')")
    return nbdir


def test_parameters_are_injected(chapters, tmp_path, vadkit_home):
    out = tmp_path / "out.ipynb"
    res = run_notebook(chapters / "00_ok.ipynb", out, profile="full", parameters={"scale": 2})
    assert res.ok, res.error
    text = out.read_text()
    assert "profile full" in text
    from vadkit import registry

    assert registry.load("00_ok", "full")["metrics"]["answer"] == 84


def test_unknown_parameter_is_refused(chapters, tmp_path):
    with pytest.raises(ConfigError, match="unknown parameter"):
        run_notebook(chapters / "00_ok.ipynb", tmp_path / "o.ipynb", parameters={"sclae": 2})
    assert parameter_names(chapters / "00_ok.ipynb") == ["profile", "scale"]


def test_resolve_by_prefix(chapters):
    assert resolve("01", chapters).name == "01_broken.ipynb"
    assert resolve("00_ok", chapters).name == "00_ok.ipynb"
    with pytest.raises(ConfigError, match="no chapter notebook matches"):
        resolve("77", chapters)


def test_failing_chapter_is_reported_and_the_book_still_builds(chapters, tmp_path, vadkit_home):
    book = tmp_path / "book"
    book.mkdir()
    (book / "intro.md").write_text("# Test book\n")
    (book / "_config.yml").write_text("title: t\nexecute:\n  execute_notebooks: 'off'\n")
    report = build_book("smoke", notebooks_root=chapters, book_root=book, echo=lambda m: None)
    status = {c.name: c.ok for c in report.chapters}
    assert status == {"00_ok": True, "01_broken": False}
    broken = next(c for c in report.chapters if not c.ok)
    assert "chapter exploded" in broken.error
    assert report.build_ok, report.build_log[-2000:]
    html = report.html_dir
    assert (html / "00_ok.html").exists() and (html / "01_broken.html").exists()
    assert "failed" in (html / "01_broken.html").read_text()
    assert "answer" in (html / "results.html").read_text()
    assert "FAILED" in report.format()
    times = json.loads((vadkit_home / "results" / "_book" / "smoke.json").read_text())
    assert set(times["chapters"]) == {"00_ok", "01_broken"}


def test_results_markdown_renders_registry(vadkit_home):
    from vadkit import registry

    run = registry.Run("05_x", {"profile": "smoke", "seed": 3}, data="SynthVAD", models="none")
    run.log_table("tab", {"columns": ["m", "v"], "rows": [["a", 0.5]]})
    run.finish()
    md = results_markdown("smoke")
    assert "## 05_x" in md and "| a | 0.5 |" in md and "SynthVAD" in md


def test_cli_help_lists_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for cmd in ("run", "book", "results"):
        assert cmd in out
