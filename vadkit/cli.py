"""The ``vadkit`` command line.

Sub-commands come from the modules that own them (each exposes ``register(subparsers)``):

* ``vadkit data ...``      :mod:`vadkit.data.cli` (synth, info, verify, fetch)
* ``vadkit features ...``  :mod:`vadkit.features.cli` (extract, compare)
* ``vadkit zoo ...``       :mod:`vadkit.models.cli` (train or load the tiny models)
* ``vadkit run`` / ``vadkit book`` / ``vadkit results``  :mod:`vadkit.pipeline.cli`
"""

from __future__ import annotations

import argparse
import importlib
import sys

from vadkit import __version__
from vadkit.argtypes import EXIT_CODES, run_checks
from vadkit.errors import VadkitError

COMMAND_MODULES = ("vadkit.data.cli", "vadkit.features.cli", "vadkit.models.cli", "vadkit.pipeline.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vadkit",
        description="Reproducible explainable video anomaly detection: data, features, models, notebooks, book.",
        epilog="Profiles: 'smoke' (CPU, offline, SynthVAD, tiny models; the default) and 'full' "
        f"(real datasets and Hugging Face models on a GPU). See README.md.\n{EXIT_CODES}.",
    )
    parser.add_argument("--version", action="version", version=f"vadkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name == name:
                continue  # that part of vadkit is not installed in this build
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)          # a bad value exits 2 here, naming the option (vadkit.argtypes)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    run_checks(args)                        # checks across options, same message format and exit code
    try:
        result = args.func(args)
    except VadkitError as err:
        print(f"vadkit: error: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:                 # `vadkit ... | head`: stop quietly, like other Unix tools
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print("vadkit: interrupted; finished work is kept in the caches and registry", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
