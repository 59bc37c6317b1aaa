"""The chapter template: a typed config whose fields carry their paper and official-code values, and ``setup``.

A chapter's config (in :mod:`vadkit.chapters`) derives from :class:`ExperimentConfig` (or a recipe's base config) and
declares each field with :func:`param`, which records, beside the smoke default, the paper's value, the official
code's value and a note where the paper is silent or the two differ. From that one place come:

* the notebook's ``parameters`` cell (:func:`parameters_cell`; a test checks that every chapter's cell agrees), which
  papermill needs and the book hides;
* the table a reader sees instead (:func:`config_table`): each parameter's value in effect beside the smoke and full
  profiles' values and the paper's and the official code's;
* ``cfg, data, run = setup(Config, globals(), prepare)``: the config resolved from the notebook's parameters, the
  chapter's data (``prepare(cfg)``), and the registry run that records what the chapter measures.

Library warnings that a reader cannot act on are silenced while a chapter runs (:func:`quiet_library_warnings`).
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

from vadkit.config import ChapterConfig

_UNSET = object()


def param(default: Any = _UNSET, *, paper: Any = None, code: Any = None, note: str = "", show: bool = True,
          default_factory: Callable[[], Any] | None = None):
    """A config field with its provenance: ``paper`` value, official ``code`` value, a ``note``; ``show=False``
    keeps housekeeping fields (threads, batch sizes of feature extraction) out of the reader's table."""
    meta = {"paper": paper, "code": code, "note": note, "show": show}
    if default_factory is not None:
        return field(default_factory=default_factory, metadata=meta)
    if isinstance(default, (list, dict, set)):
        value = default
        return field(default_factory=lambda: type(value)(value), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class ExperimentConfig(ChapterConfig):
    """Fields every experiment chapter has: its data, the validation protocol, seeds and caching."""

    dataset: str = param("synthvad", note="synthvad | ucf_crime | xd_violence | ... (vadkit.data.datasets)")
    data_root: str | None = param(None, note="None in smoke: the cached SynthVAD set; full: the dataset as downloaded")
    train_split: str = param("train", show=False)
    val_split: str | None = param("val", note="model selection, never the test split; carved from train when the "
                                              "dataset has none")
    test_split: str = param("test", show=False)
    val_fraction: float = param(0.2, note="share of each class's training videos held out when carving validation")
    val_seed: int = param(0, show=False)
    val_list: str | None = param(None, show=False, note="a file of training video ids to hold out for validation")
    bench: bool = param(True, note="also score the shared SynthVAD benchmark split with the validation-selected "
                                   "model (vadkit.experiment.benchmark; SynthVAD only, the leaderboard reads it)")
    seeds: list[int] = param([0, 1, 2], paper="one unreported seed", note="every trained configuration, each seed")
    retrain: bool = param(False, show=False, note="ignore cached trained weights")
    threads: int = param(1, show=False, note="torch CPU threads (0 = torch default)")

    def data_settings(self):
        from vadkit.experiment.data import DataSettings

        return DataSettings(self.dataset, self.data_root, self.train_split, self.val_split, self.test_split,
                            self.val_fraction, self.val_seed, self.val_list)


def field_meta(cfg_cls) -> dict[str, dict]:
    return {f.name: dict(f.metadata) for f in dataclasses.fields(cfg_cls) if f.name != "profile"}


def parameters_cell(cfg_cls) -> str:
    """The source of the notebook's ``parameters`` cell: ``profile`` and every field set to ``None`` (papermill
    overrides any of them; ``None`` takes the profile's value), each with the smoke and full values as a comment,
    so a reader of the notebook sees what is in effect without running it."""
    smoke, full = cfg_cls.resolve("smoke"), cfg_cls.resolve("full")
    lines = ["# None = the profile's value; each comment gives the smoke (and full) value", 'profile = "smoke"']
    for name in cfg_cls.fields():
        s, f = _show(getattr(smoke, name)), _show(getattr(full, name))
        lines.append(f"{name} = None  # smoke: {s}" + ("" if f == s else f" | full: {f}"))
    return "\n".join(lines)


def _show(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(_show(x) for x in v) if v else "[]"
    return str(v)


def config_table(cfg, *, all_fields: bool = False):
    """``DataFrame``: parameter | in effect | smoke | full | paper | official code | note (shown fields only)."""
    import pandas as pd

    cls = type(cfg)
    smoke = cls.resolve("smoke")
    full = cls.resolve("full")
    rows = []
    for name, meta in field_meta(cls).items():
        if not (meta.get("show", True) or all_fields):
            continue
        rows.append({"parameter": name, "in effect": _show(getattr(cfg, name)),
                     "smoke": _show(getattr(smoke, name)), "full": _show(getattr(full, name)),
                     "paper": _show(meta.get("paper")), "official code": _show(meta.get("code")),
                     "note": meta.get("note") or ""})
    df = pd.DataFrame(rows).set_index("parameter")
    for col in ("paper", "official code"):
        if (df[col] == "–").all():
            df = df.drop(columns=col)
    return df


def quiet_library_warnings() -> None:
    """Silence warnings a reader cannot act on (they describe library internals, not the chapter's results)."""
    for pattern in (r".*enable_nested_tensor.*", r".*TypedStorage is deprecated.*",
                    r".*torch\.utils\._pytree.*", r".*`resume_download` is deprecated.*",
                    r".*Converting a tensor with requires_grad=True to a scalar.*"):
        warnings.filterwarnings("ignore", message=pattern)
    import logging

    for name in ("open_clip", "transformers.modeling_utils", "transformers.distributed.tensor_parallel", "timm"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # open_clip logs its random-initialisation notice on the root logger; the paper-dims cost models are random by
    # design (only their shapes are counted), so that notice tells the reader nothing
    root = logging.getLogger()
    if not any(isinstance(f, _DropMessages) for f in root.filters):
        root.addFilter(_DropMessages(("No pretrained weights loaded for model",)))


class _DropMessages:
    """A logging filter that drops records whose message starts with one of ``prefixes``."""

    def __init__(self, prefixes: tuple[str, ...]):
        self.prefixes = prefixes

    def filter(self, record) -> bool:
        return not str(record.getMessage()).startswith(self.prefixes)


def setup(cfg_cls, namespace: dict, prepare: Callable[[Any], Any] | None = None, *,
          describe: Callable[[Any, Any], str] | None = None, models: Callable[[Any], str] | str | None = None,
          show: bool = True):
    """``(cfg, data, run)`` for a chapter notebook (see the module docstring).

    ``namespace`` is the notebook's ``globals()`` after papermill injected the parameters; ``describe(cfg, data)``
    and ``models(cfg)`` give the provenance strings the registry stores beside every number (which data and which
    models produced it).
    """
    from vadkit import registry

    quiet_library_warnings()
    cfg = cfg_cls.from_namespace(namespace.get("profile", "smoke"), namespace)
    data = prepare(cfg) if prepare is not None else None
    data_label = describe(cfg, data) if describe is not None else getattr(cfg, "dataset", None)
    model_label = models(cfg) if callable(models) else models
    run = registry.Run(cfg.CHAPTER, cfg, data=data_label, models=model_label)
    splits = getattr(data, "splits", None)
    if splits is not None:                       # how validation was made and which criterion selects models
        run.set("validation", {"source": splits.val_source, "criterion": splits.val_criterion,
                               "files": splits.files, "sizes": {s: len(splits.split(s)) for s in
                                                                ("train", "val", "test")}})
    if show:
        try:
            from IPython.display import Markdown, display

            display(Markdown(f"**Data.** {data_label}  \n**Models.** {model_label}  \n**Profile.** `{cfg.profile}`"))
            display(config_table(cfg))
        except ImportError:  # pragma: no cover - outside IPython
            print(data_label, model_label, sep="\n")
    return cfg, data, run
