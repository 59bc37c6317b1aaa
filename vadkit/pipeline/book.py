"""Build the Jupyter Book: execute every chapter once, then render HTML offline.

Steps of :func:`build_book`:

1. execute each chapter notebook with papermill into ``book/_generated/<profile>/`` (a chapter that
   fails is recorded and the others go on; its partial notebook is kept, with a warning at the top);
2. write the generated pages: ``results.md`` (every table and metric of the results registry, with
   the data/models/seeds that produced it), ``build_report.md`` (status and wall time per chapter), and the
   survey map and the leaderboard (:mod:`vadkit.pipeline.pages`: ``survey_map.md``, ``leaderboard.md``);
3. run ``jupyter-book build`` (v1, Sphinx; offline; ``execute_notebooks: off`` because step 1
   already executed them, so no notebook runs twice) and copy the HTML to ``book/_build/<profile>/html``.

The static sources (``_config.yml``, ``intro.md``, ...) live in ``book/``; the table of contents is
generated from the chapters that exist.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from vadkit import paths, registry
from vadkit.errors import VadkitError
from vadkit.io_utils import atomic_write_json, atomic_write_text
from vadkit.pipeline.notebooks import NotebookResult, discover, parameter_names, resolve, run_notebook

STATIC_PAGES = ("intro.md", "profiles.md", "conventions.md")


@dataclass
class BookReport:
    profile: str
    chapters: list[NotebookResult] = field(default_factory=list)
    html_dir: Path | None = None
    build_ok: bool = False
    build_log: str = ""
    wall_time_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.build_ok and all(c.ok for c in self.chapters)

    def format(self) -> str:
        lines = [f"vadkit book ({self.profile} profile): {sum(c.ok for c in self.chapters)}/"
                 f"{len(self.chapters)} chapters ran, HTML build {'ok' if self.build_ok else 'FAILED'}"]
        for c in self.chapters:
            lines.append(f"  {'ok    ' if c.ok else 'FAILED'} {c.name:<32} {c.wall_time_s:8.1f} s"
                         + (f"   {c.error.splitlines()[0]}" if c.error else ""))
        if self.html_dir:
            lines.append(f"  HTML: {self.html_dir / 'index.html'}")
        lines.append(f"  total {self.wall_time_s:.1f} s")
        return "\n".join(lines)


def book_dir() -> Path:
    root = paths.repo_root()
    if root is None:
        raise VadkitError("cannot find book/: run vadkit book from a source checkout")
    return root / "book"


def _md_table(columns: list[str], rows: list[list[Any]]) -> str:
    def fmt(v: Any) -> str:
        if v is None:
            return "–"
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v).replace("|", "\\|").replace("\n", " ")

    head = "| " + " | ".join(fmt(c) for c in columns) + " |"
    sep = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join([head, sep, *body])


def results_markdown(profile: str, chapters: Iterable[str] | None = None) -> str:
    """The results page: every registry record of ``profile``, tables generated, never typed."""
    records = registry.load_all(profile)
    if chapters is not None:
        records = {k: v for k, v in records.items() if k in set(chapters)}
    out = [f"# Results registry ({profile} profile)", "",
           "Every number below was written by a chapter run into the results registry "
           f"(`$VADKIT_RESULTS/<chapter>/{profile}.json`) and rendered from it by `vadkit book`. "
           "Each block names the data and models that produced it.", ""]
    if not records:
        out.append("_No chapter has written results for this profile yet._")
    for name, rec in records.items():
        out += [f"## {name}", ""]
        meta = [("status", rec.get("status")), ("data", rec.get("data")), ("models", rec.get("models")),
                ("seeds", ", ".join(map(str, rec.get("seeds") or [])) or None),
                ("wall time (s)", rec.get("wall_time_s")), ("finished", rec.get("finished")),
                ("torch", (rec.get("versions") or {}).get("torch")),
                ("vadkit", (rec.get("versions") or {}).get("vadkit"))]
        out += [_md_table(["field", "value"], [[k, v] for k, v in meta if v is not None]), ""]
        if rec.get("metrics"):
            out += ["**Metrics**", "", _md_table(["metric", "value"], [[k, v] for k, v in rec["metrics"].items()]), ""]
        for tname, tab in (rec.get("tables") or {}).items():
            out += [f"**{tname}**" + (f": {tab['caption']}" if tab.get("caption") else ""), "",
                    _md_table(tab["columns"], tab["rows"]), ""]
    return "\n".join(out) + "\n"


def build_report_markdown(report: BookReport) -> str:
    rows = [[c.name, "ok" if c.ok else "FAILED", c.wall_time_s, (c.error or "").splitlines()[0] if c.error else ""]
            for c in report.chapters]
    return "\n".join([
        f"# Build report ({report.profile} profile)", "",
        "Wall time of each chapter as executed by `vadkit book` (papermill, kernel start included). "
        "`benchmarks/book_times.py` prints the same numbers from the registry.", "",
        _md_table(["chapter", "status", "wall time (s)", "error"], rows), "",
    ])


def _failure_banner(nb_path: Path, error: str) -> None:
    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    banner = nbformat.v4.new_markdown_cell(
        "```{warning}\nThis chapter **failed** in the last build; outputs below stop at the failing cell.\n\n"
        f"Error: `{error.splitlines()[0]}`\n```")
    nb.cells.insert(0, banner)
    nbformat.write(nb, nb_path)


def prepare_for_book(nb_path: Path) -> None:
    """Make an executed notebook read like a book page.

    Papermill's injected-parameters cell and the tagged parameters cell are removed from the page (the chapter shows
    the values in effect as a table instead); ``remove-cell`` is the Jupyter Book tag for that.
    """
    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    changed = False
    for cell in nb.cells:
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if ("injected-parameters" in tags or "parameters" in tags) and "remove-cell" not in tags:
            tags.append("remove-cell")
            changed = True
    if changed:
        nbformat.write(nb, nb_path)


def write_toc(src: Path, chapter_stems: list[str]) -> None:
    pages = [p[:-3] for p in STATIC_PAGES[1:] if (src / p).exists()]
    toc = {
        "format": "jb-book",
        "root": "intro",
        "parts": [
            {"caption": "Start here", "chapters": [{"file": p} for p in pages]},
            {"caption": "Chapters", "chapters": [{"file": s} for s in chapter_stems]},
            {"caption": "Results", "chapters": [{"file": "survey_map"}, {"file": "leaderboard"}, {"file": "results"},
                                                {"file": "build_report"}]},
        ],
    }
    toc["parts"] = [p for p in toc["parts"] if p["chapters"]]
    atomic_write_text(src / "_toc.yml", yaml.safe_dump(toc, sort_keys=False))


def build_book(profile: str = "smoke", only: list[str] | None = None, *, execute: bool = True,
               parameters: dict[str, Any] | None = None, timeout: int | None = None,
               echo=None, notebooks_root: Path | None = None, book_root: Path | None = None) -> BookReport:
    """Execute the chapters (``only`` selects some) and build the HTML book. Never stops at a failing chapter.

    ``notebooks_root`` and ``book_root`` default to the checkout's ``notebooks/`` and ``book/``.
    """
    echo = echo or (lambda msg: print(msg, flush=True))
    t0 = time.perf_counter()
    bdir = Path(book_root) if book_root else book_dir()
    src = bdir / "_generated" / profile
    src.mkdir(parents=True, exist_ok=True)
    notebooks = [resolve(x, notebooks_root) for x in only] if only else discover(notebooks_root)
    report = BookReport(profile)
    if execute and profile == "smoke" and not only and notebooks_root is None:  # the project's whole book
        _pretrain_zoo(echo)
    for i, nb in enumerate(notebooks, 1):
        out = src / nb.name
        if execute:
            echo(f"[{i}/{len(notebooks)}] {nb.stem} ({profile}) ...")
            declared = set(parameter_names(nb))
            chapter_params = {k: v for k, v in (parameters or {}).items() if k in declared}
            res = run_notebook(nb, out, profile=profile, parameters=chapter_params, timeout=timeout)
            echo(f"    {'ok' if res.ok else 'FAILED'} in {res.wall_time_s:.1f} s" + (f": {res.error.splitlines()[0]}" if res.error else ""))
            if out.exists():
                prepare_for_book(out)
            if not res.ok and out.exists():
                _failure_banner(out, res.error or "")
        else:
            if not out.exists():
                shutil.copy(nb, out)
            res = NotebookResult(nb.stem, True, 0.0, str(out))
        report.chapters.append(res)

    # Pages: static sources, generated results + build report, TOC of the chapters present.
    for page in STATIC_PAGES + ("_config.yml",):
        if (bdir / page).exists():
            shutil.copy(bdir / page, src / page)
    if (bdir / "_static").is_dir():                   # the book's CSS (jupyter-book includes _static/*.css)
        shutil.copytree(bdir / "_static", src / "_static", dirs_exist_ok=True)
    all_present = sorted(p.stem for p in src.glob("[0-9][0-9]_*.ipynb"))
    stems = [s for s in all_present if s in {n.stem for n in notebooks}] if only else all_present
    atomic_write_text(src / "results.md", results_markdown(profile))
    atomic_write_text(src / "build_report.md", build_report_markdown(report))
    from vadkit.pipeline.pages import leaderboard_markdown, survey_markdown

    atomic_write_text(src / "survey_map.md", survey_markdown(profile, all_present))
    atomic_write_text(src / "leaderboard.md", leaderboard_markdown(profile))
    write_toc(src, stems)
    _record_times(report)

    # HTML (jupyter-book v1 = Sphinx + myst-nb, offline).
    jb = shutil.which("jupyter-book") or str(Path(sys.executable).with_name("jupyter-book"))
    proc = subprocess.run([jb, "build", str(src), "--builder", "html", "--keep-going"],
                          capture_output=True, text=True)
    report.build_log = proc.stdout[-20000:] + proc.stderr[-20000:]
    html = src / "_build" / "html"
    report.build_ok = proc.returncode == 0 and (html / "index.html").exists()
    if (html / "index.html").exists():
        final = bdir / "_build" / profile / "html"
        if final.exists():
            shutil.rmtree(final)
        shutil.copytree(html, final)
        report.html_dir = final
    if not report.build_ok:
        echo("jupyter-book build failed:\n" + report.build_log[-4000:])
    report.wall_time_s = round(time.perf_counter() - t0, 1)
    return report


def _pretrain_zoo(echo) -> None:
    """Train the tiny zoo before the chapters, two entries side by side (:func:`vadkit.models.zoo.train_all`):
    the chapters would train each entry on first use, one after the other. A failure is reported and left to
    the chapter that needs the entry (it retries and fails visibly on its page)."""
    from vadkit.errors import VadkitError
    from vadkit.models import zoo

    t0 = time.perf_counter()
    try:
        zoo.train_all(echo=echo)
    except VadkitError as err:
        echo(f"zoo pre-training failed (the chapters will retry): {err}")
        return
    echo(f"zoo ready in {time.perf_counter() - t0:.0f} s")


def _record_times(report: BookReport) -> None:
    path = paths.results_dir() / "_book" / f"{report.profile}.json"
    previous: dict[str, Any] = {}
    if path.exists():
        try:
            previous = json.loads(path.read_text()).get("chapters", {})
        except (OSError, json.JSONDecodeError):
            previous = {}
    previous.update({c.name: {"ok": c.ok, "wall_time_s": c.wall_time_s, "error": c.error} for c in report.chapters})
    atomic_write_json(path, {"profile": report.profile, "chapters": previous,
                             "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
