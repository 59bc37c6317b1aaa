"""Atomic file writes and small hashing helpers.

Every cache and result file in vadkit is written through :func:`atomic_write`: the data goes to a
temporary file in the same directory, is flushed and fsync'ed, then renamed over the target. A crash
leaves either the old file or the new one, never a half-written one, so interrupted jobs resume.

Permissions: :func:`tempfile.mkstemp` creates its file with mode ``0600`` (and :func:`tempfile.mkdtemp`
its folder with ``0700``) whatever the umask, which would make shared caches unreadable by the rest of a
group. Before the rename the file gets the mode a plain ``open(path, "w")`` would give it: the mode of the
file it replaces, or ``0o666 & ~umask`` for a new file (:func:`make_temp_dir`: ``0o777 & ~umask``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
import tempfile
import threading
from pathlib import Path
from typing import Any, Iterator


_umask_lock = threading.Lock()


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows (``/proc/self/status`` on Linux)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _umask_lock:  # elsewhere: set and restore (the lock keeps our own threads from racing)
        old = os.umask(0o022)
        os.umask(old)
    return old


def _target_mode(path: Path, base: int = 0o666) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)   # replacing a file keeps its mode, like open(path, "w")
    except OSError:
        return base & ~current_umask()


def make_temp_dir(prefix: str, dir: str | os.PathLike) -> Path:
    """:func:`tempfile.mkdtemp` whose folder gets ``0o777 & ~umask`` (for build-then-rename of a whole entry)."""
    d = Path(tempfile.mkdtemp(prefix=prefix, dir=dir))
    os.chmod(d, 0o777 & ~current_umask())
    return d


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike) -> Iterator[Path]:
    """Build a whole directory entry atomically: yields an empty temporary folder beside ``target``; on success it
    replaces ``target`` (an old one is removed first), on any exception it is deleted and ``target`` is untouched."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(f".{target.name}.", target.parent)
    try:
        yield tmp
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[Any]:
    """Open a temporary file next to ``path``; on clean exit rename it onto ``path``.

    The file ends up with the mode of the file it replaces, or ``0o666 & ~umask`` when new.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
            if hasattr(os, "fchmod"):
                os.fchmod(fh.fileno(), _target_mode(path))
        if not hasattr(os, "fchmod"):
            os.chmod(tmp, _target_mode(path))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_write(path, "w") as fh:
        fh.write(text)


def atomic_write_json(path: str | os.PathLike, obj: Any, indent: int = 2) -> None:
    with atomic_write(path, "w") as fh:
        json.dump(obj, fh, indent=indent, sort_keys=False, default=_json_default)


def atomic_save_npy(path: str | os.PathLike, array) -> None:
    import numpy as np

    with atomic_write(path, "wb") as fh:
        np.save(fh, array)


def atomic_save_npz(path: str | os.PathLike, **arrays) -> None:
    """Write arrays to a compressed ``.npz`` (read back by ``np.load(path, allow_pickle=False)``), atomically
    and byte-deterministically: the zip members carry a fixed timestamp (``np.savez_compressed`` stamps the
    current time), so the same arrays always give the same file and the same content digest."""
    import io
    import zipfile

    import numpy as np

    with atomic_write(path, "wb") as fh:
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            for name, arr in arrays.items():
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, buf.getvalue(), compresslevel=6)


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "__dataclass_fields__"):
        import dataclasses

        return dataclasses.asdict(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def content_hash(obj: Any, length: int = 16) -> str:
    """Stable short hash of a JSON-serialisable object (dict keys sorted)."""
    blob = json.dumps(obj, sort_keys=True, default=_json_default).encode()
    return hashlib.sha256(blob).hexdigest()[:length]
