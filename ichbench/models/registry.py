"""Model registry over the `ichbench.models` entry points (see ichbench.plugins and models.contract).

Each entry point names a factory `f(in_channels=1, **kw)` returning a model that keeps the contract
in `ichbench.models.contract`.
"""

from __future__ import annotations

import fnmatch

from ichbench.errors import ModelError
from ichbench.models.contract import input_multiple
from ichbench.plugins import Plugin, discover

GROUP = "ichbench.models"


def available_models() -> dict[str, Plugin]:
    """Name -> the registered architecture (its factory in `.obj`, `.source` distribution, `.target`)."""
    return discover(GROUP).plugins


def broken_models() -> tuple[tuple[str, str], ...]:
    """(name, error) of every model plugin that failed to load."""
    return discover(GROUP).broken


def list_models(pattern: str = "*") -> list[str]:
    """Sorted names matching a shell-style pattern."""
    return sorted(n for n in available_models() if fnmatch.fnmatchcase(n, pattern))


def resolve(names: str | list[str]) -> list[str]:
    """'all' or a comma-separated list (or list) of names, checked against the registry."""
    if isinstance(names, str):
        names = list_models() if names == "all" else [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in names if n not in available_models()]
    if unknown:
        raise ModelError(f"unknown model(s) {', '.join(unknown)}; available: {', '.join(list_models())}")
    return list(names)


def create_model(name: str, in_channels: int = 1, **kw: object):
    """Build a registered model; returns a torch module producing one logit channel."""
    info = available_models().get(name)
    if info is None:
        raise ModelError(f"unknown model {name!r}; available: {', '.join(list_models())}")
    try:
        return info.obj(in_channels=in_channels, **kw)
    except (TypeError, ValueError) as exc:  # arguments from a protocol's [models.NAME] table or a bundle
        raise ModelError(f"model {name!r} cannot be built with {kw}: {exc}") from None


def check_window(name: str, size: int, **kw: object) -> None:
    """Refuse a window side the model cannot take (before anything trains)."""
    multiple = input_multiple(create_model(name, **kw))
    if size % multiple:
        raise ModelError(
            f"model {name!r} needs window sides divisible by {multiple}; the protocol's [windows] size is {size}"
        )
