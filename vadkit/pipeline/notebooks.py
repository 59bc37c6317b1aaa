"""Execute chapter notebooks headlessly with papermill.

Each chapter notebook has one cell tagged ``parameters`` holding ``profile = "smoke"`` and every field
of the chapter's config set to ``None``; :func:`run_notebook` injects ``profile`` and any overrides.
A failing chapter is returned as a :class:`NotebookResult` with ``ok=False`` and the error (the partly
executed notebook is still written, so its outputs up to the failure are kept).

Network: on the smoke profile (and whenever ``VADKIT_NO_NETWORK=1`` is set, as the test suite does) the
kernel runs under :mod:`vadkit.pipeline.netguard`: any connection or name lookup to a host other than
loopback, and any ``apt-get``/``pip``/``curl`` subprocess, fails with ``NetworkBlockedError`` before a
packet is sent. ``run_notebook(..., network=True)`` lifts it (the full profile's hub downloads).
"""

from __future__ import annotations

import json
import os
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vadkit import paths
from vadkit.errors import ConfigError, VadkitError


@dataclass
class NotebookResult:
    name: str
    ok: bool
    wall_time_s: float
    output: str
    error: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def notebooks_dir() -> Path:
    root = paths.repo_root()
    if root is None:
        raise VadkitError("cannot find the notebooks/ folder: run vadkit from a source checkout")
    return root / "notebooks"


def discover(directory: Path | None = None) -> list[Path]:
    """Chapter notebooks in book order (file names start with a two-digit chapter number)."""
    directory = Path(directory) if directory else notebooks_dir()
    return sorted(p for p in directory.glob("[0-9][0-9]_*.ipynb"))


def resolve(name_or_path: str | os.PathLike, directory: Path | None = None) -> Path:
    """Accept a path, a file name, a stem (``11_vadclip``) or a unique prefix (``11``)."""
    p = Path(name_or_path)
    if p.suffix == ".ipynb" and p.is_file():
        return p
    candidates = discover(directory)
    exact = [c for c in candidates if c.stem == p.stem or c.name == p.name]
    if exact:
        return exact[0]
    prefixed = [c for c in candidates if c.stem.startswith(str(name_or_path))]
    if len(prefixed) == 1:
        return prefixed[0]
    names = ", ".join(c.stem for c in candidates)
    if not prefixed:
        raise ConfigError(f"no chapter notebook matches {str(name_or_path)!r}; chapters: {names}")
    raise ConfigError(f"{str(name_or_path)!r} matches several chapters: {', '.join(c.stem for c in prefixed)}")


def parameter_names(notebook: Path) -> list[str]:
    """Variables assigned in the notebook's ``parameters`` cell."""
    import ast

    nb = json.loads(Path(notebook).read_text())
    for cell in nb.get("cells", []):
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            tree = ast.parse(src)
            return [t.id for node in tree.body if isinstance(node, ast.Assign)
                    for t in node.targets if isinstance(t, ast.Name)]
    raise ConfigError(f"{notebook}: no cell tagged 'parameters'")


def run_notebook(notebook: str | os.PathLike, output: str | os.PathLike, *, profile: str = "smoke",
                 parameters: dict[str, Any] | None = None, timeout: int | None = None,
                 log_output: bool = False, network: bool | None = None) -> NotebookResult:
    """Execute ``notebook`` into ``output`` with papermill; never raises for a failing chapter.

    ``network``: ``None`` (default) guards the kernel on the smoke profile or when ``VADKIT_NO_NETWORK=1``
    is set (see the module docstring); ``False`` always guards; ``True`` never does (unless
    ``VADKIT_NO_NETWORK=1``, which a test session sets and a call cannot lift).
    """
    import papermill as pm

    from vadkit.pipeline import netguard

    notebook, output = Path(notebook), Path(output)
    params = {"profile": profile, **(parameters or {})}
    known = parameter_names(notebook)
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ConfigError(f"{notebook.name}: unknown parameter(s) {unknown}; this chapter takes {known}")
    output.parent.mkdir(parents=True, exist_ok=True)
    # The kernel inherits this environment: smoke never reaches a model hub, and progress bars
    # (useful live in JupyterLab) would only clutter the executed notebook.
    env_patch = {"TQDM_DISABLE": os.environ.get("TQDM_DISABLE", "1"), "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    if profile == "smoke":
        env_patch.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    guard = os.environ.get(netguard.ENV) == "1" or (profile == "smoke" if network is None else not network)
    engine_kwargs = {}
    if guard:
        env_patch[netguard.ENV] = "1"
        engine_kwargs["extra_arguments"] = [netguard.KERNEL_ARGUMENT]
    saved = {k: os.environ.get(k) for k in env_patch}
    os.environ.update(env_patch)
    t0 = time.perf_counter()
    error = None
    try:
        pm.execute_notebook(
            str(notebook), str(output), parameters=params, cwd=str(notebook.parent),
            progress_bar=False, log_output=log_output, execution_timeout=timeout,
            request_save_on_cell_execute=True, **engine_kwargs,
        )
    except pm.PapermillExecutionError as err:
        error = f"cell {err.exec_count}: {err.ename}: {err.evalue}"
    except Exception as err:  # kernel died, timeout, bad notebook: report, keep going
        error = f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=3)}"
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return NotebookResult(notebook.stem, error is None, round(time.perf_counter() - t0, 2), str(output),
                          error, params)
