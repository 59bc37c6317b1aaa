"""Typed chapter configs with two profiles, ``smoke`` and ``full``.

Each chapter has exactly one config class (a dataclass deriving :class:`ChapterConfig`) in
:mod:`vadkit.chapters`, with its ``smoke`` values as field defaults and its ``full`` values in the
class attribute ``FULL``. A notebook's parameters cell lists ``profile`` and every field set to
``None`` ("use the profile's value"); papermill ``-p key value`` overrides any of them. Both profiles
run the same code: only these values differ.

Example::

    @dataclass
    class QuickstartConfig(ChapterConfig):
        CHAPTER = "00_quickstart"
        FULL = {"dataset": "ucf_crime", "data_root": None}
        dataset: str = "synthvad"
        seed: int = 0

    cfg = QuickstartConfig.resolve("smoke", seed=3)
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from typing import Any, ClassVar

from vadkit.errors import ConfigError

PROFILES = ("smoke", "full")


@dataclass
class ChapterConfig:
    CHAPTER: ClassVar[str] = ""
    FULL: ClassVar[dict[str, Any]] = {}
    #: full-profile values that depend on the dataset (e.g. VadCLIP's XD-Violence settings), applied over ``FULL``
    #: when the resolved ``dataset`` is a key; explicit overrides still win
    FULL_BY_DATASET: ClassVar[dict[str, dict[str, Any]]] = {}

    profile: str = "smoke"

    @classmethod
    def fields(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls) if f.name != "profile"]

    @classmethod
    def resolve(cls, profile: str = "smoke", **overrides: Any):
        """Build the config for ``profile``, then apply non-``None`` overrides with type checks."""
        if profile not in PROFILES:
            raise ConfigError(f"{cls.CHAPTER or cls.__name__}: unknown profile {profile!r}; choose one of {PROFILES}")
        unknown = set(overrides) - set(cls.fields())
        if unknown:
            raise ConfigError(
                f"{cls.CHAPTER or cls.__name__}: unknown parameter(s) {sorted(unknown)}; known: {cls.fields()}"
            )
        values: dict[str, Any] = {}
        if profile == "full":
            bad = set(cls.FULL) - set(cls.fields())
            if bad:
                raise ConfigError(f"{cls.__name__}.FULL names unknown fields {sorted(bad)}")
            values.update(cls.FULL)
            ds = overrides.get("dataset") or values.get("dataset")
            extra = cls.FULL_BY_DATASET.get(ds, {})
            bad = set(extra) - set(cls.fields())
            if bad:
                raise ConfigError(f"{cls.__name__}.FULL_BY_DATASET[{ds!r}] names unknown fields {sorted(bad)}")
            values.update(extra)
        values.update({k: v for k, v in overrides.items() if v is not None})
        hints = typing.get_type_hints(cls)
        for name, value in values.items():
            values[name] = _coerce(cls, name, value, hints[name])
        return cls(profile=profile, **values)

    @classmethod
    def from_namespace(cls, profile: str, namespace: dict[str, Any]):
        """Resolve from a notebook's globals (the papermill parameters cell)."""
        return cls.resolve(profile, **{k: namespace.get(k) for k in cls.fields() if namespace.get(k) is not None})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _coerce(cls, name: str, value: Any, hint: Any) -> Any:
    """Accept values as papermill passes them (``-p`` gives str/int/float) and check the type."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        non_none = [a for a in args if a is not type(None)]
        if value is None:
            return None
        last_err: Exception | None = None
        for a in non_none:
            try:
                return _coerce(cls, name, value, a)
            except ConfigError as err:
                last_err = err
        raise last_err or ConfigError(f"{cls.__name__}.{name}: cannot use {value!r}")
    if hint is Any:
        return value
    if origin in (list, tuple):
        if isinstance(value, str) and value.strip().startswith("["):
            import yaml

            try:
                value = yaml.safe_load(value)                 # "[0, 1, 2]" as papermill -p passes it
            except yaml.YAMLError:
                raise ConfigError(f"{cls.__name__}.{name}: cannot read {value!r} as a list") from None
        elif isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{cls.__name__}.{name}: expected a list, got {value!r}")
        inner = args[0] if args else Any
        items = [_coerce(cls, name, v, inner) for v in value]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{cls.__name__}.{name}: expected a mapping, got {value!r}")
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "false", "0", "no"):
            return value.lower() in ("true", "1", "yes")
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ConfigError(f"{cls.__name__}.{name}: expected a bool, got {value!r}")
    if hint in (int, float, str):
        try:
            if hint is int and isinstance(value, float) and not value.is_integer():
                raise ValueError
            return hint(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{cls.__name__}.{name}: expected {hint.__name__}, got {value!r}") from None
    return value
