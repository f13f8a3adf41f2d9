"""Model registry over the `ichbench.models` entry points, discovered once and cached.

Each entry point names a factory `f(in_channels=1, **kw) -> torch.nn.Module` mapping (B, C, h, w)
to one logit channel (B, 1, h, w). A plugin that fails to load is reported (name and error) and
skipped; a duplicate name is reported and the first one (the built-in, if any) is kept.
"""

from __future__ import annotations

import fnmatch
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import entry_points

from ichbench.errors import ModelError

GROUP = "ichbench.models"


@dataclass(frozen=True)
class ModelInfo:
    """One registered architecture."""

    name: str
    factory: Callable
    source: str  # the distribution that registered it
    target: str  # module:function


@dataclass(frozen=True)
class Discovery:
    """What discovery found: usable models, and plugins that failed (name, error)."""

    models: dict[str, ModelInfo]
    broken: tuple[tuple[str, str], ...]


@lru_cache(maxsize=1)
def discover() -> Discovery:
    """Load every entry point of the group once; later calls return the cached result."""
    models: dict[str, ModelInfo] = {}
    broken: list[tuple[str, str]] = []
    eps = sorted(entry_points(group=GROUP), key=lambda ep: (_dist(ep) != "ichbench", ep.name))
    for ep in eps:
        source = _dist(ep)
        if ep.name in models:
            warnings.warn(
                f"model {ep.name!r} from {source} ({ep.value}) duplicates the one from "
                f"{models[ep.name].source} ({models[ep.name].target}); keeping the one from {models[ep.name].source}",
                stacklevel=2,
            )
            continue
        try:
            factory = ep.load()
        except Exception as exc:  # a plugin may fail in any way; it must not take the others down
            broken.append((ep.name, f"{type(exc).__name__}: {exc}"))
            warnings.warn(f"model plugin {ep.name!r} ({ep.value}) failed to load: {type(exc).__name__}: {exc}",
                          stacklevel=2)
            continue
        models[ep.name] = ModelInfo(ep.name, factory, source, ep.value)
    return Discovery(models=models, broken=tuple(broken))


def _dist(ep: object) -> str:
    dist = getattr(ep, "dist", None)
    return dist.name if dist is not None else "unknown"


def available_models() -> dict[str, ModelInfo]:
    """Name -> ModelInfo of every model that loaded."""
    return discover().models


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
    return info.factory(in_channels=in_channels, **kw)
