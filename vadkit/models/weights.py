"""Weight files checked before a model loader reads them, so a corrupt file gives an error that names it.

The safetensors library reports a truncated or overwritten file as ``SafetensorError: Error while deserializing
header: incomplete metadata, file not fully covered``, without the path, from deep inside a loader
(open_clip's factory, ``from_pretrained``). :func:`check_weights` reads only the header of every
``*.safetensors`` file of a local model (8-byte little-endian header length ``n``, ``n`` bytes of JSON
``{tensor: {"dtype", "shape", "data_offsets": [begin, end]}}``, then the data, whose size must be exactly the
largest ``end``) and raises :class:`CorruptWeightsError` naming the file and what is wrong with it; a check costs
one ``stat`` and one header read per file. :func:`weights_errors` turns what the libraries raise for weights they
cannot read into the same error, naming the model.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
from pathlib import Path
from typing import Iterator

from vadkit.errors import ModelNotFoundError

_MAX_HEADER = 100 << 20   # the safetensors format limits its header to 100 MB


class CorruptWeightsError(ModelNotFoundError):
    """A weight file exists but cannot be read: truncated, overwritten, or not the format its name says."""


def check_safetensors(path: str | os.PathLike) -> None:
    """Raise :class:`CorruptWeightsError` naming ``path`` unless its header and size are consistent."""
    p = Path(path)
    try:
        size = p.stat().st_size
        with open(p, "rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise CorruptWeightsError(f"{p}: corrupt safetensors file: {size} bytes, shorter than the 8-byte "
                                          f"header length that starts every safetensors file")
            (n,) = struct.unpack("<Q", head)
            if n > _MAX_HEADER or 8 + n > size:
                raise CorruptWeightsError(f"{p}: corrupt safetensors file: its header length field says {n} bytes "
                                          f"but the file has {size} (truncated, or not a safetensors file)")
            raw = fh.read(n)
    except OSError as err:
        raise CorruptWeightsError(f"{p}: cannot read weight file ({err})") from err
    try:
        header = json.loads(raw)
        ends = [int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"]
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as err:
        raise CorruptWeightsError(f"{p}: corrupt safetensors file: its header is not valid safetensors JSON "
                                  f"({type(err).__name__}: {err})") from None
    need = 8 + n + max(ends, default=0)
    if size < need:
        raise CorruptWeightsError(f"{p}: truncated safetensors file: {size} bytes, its header describes {need} "
                                  f"({need - size} missing); download or save the model again")
    if size > need:
        raise CorruptWeightsError(f"{p}: corrupt safetensors file: {size - need} bytes after the last tensor "
                                  f"(its header describes {need}); download or save the model again")


def check_weights(location: str | os.PathLike) -> None:
    """Check every ``*.safetensors`` file of a local model directory (or one file); hub ids are left alone."""
    p = Path(location).expanduser()
    if p.is_file():
        if p.suffix == ".safetensors":
            check_safetensors(p)
        return
    if p.is_dir():
        for f in sorted(p.rglob("*.safetensors")):
            check_safetensors(f)


@contextlib.contextmanager
def weights_errors(name: str | os.PathLike, what: str = "model") -> Iterator[None]:
    """Re-raise the weight-reading errors of safetensors/torch inside the block as :class:`CorruptWeightsError`."""
    from safetensors import SafetensorError

    try:
        yield
    except SafetensorError as err:
        raise CorruptWeightsError(f"{name}: {what} weights are unreadable (SafetensorError: {err}); "
                                  f"download or save the model again") from err
