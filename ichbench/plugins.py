"""Entry-point plugins, discovered once per group (as xarray discovers its backends).

The built-ins register through the same groups as any plugin. A plugin that fails to load is
reported (name and error) and skipped; a duplicate name is reported and the first one (the
built-in, if any) is kept.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cache
from importlib.metadata import EntryPoint, entry_points


@dataclass(frozen=True)
class Plugin:
    """One loaded entry point."""

    name: str
    obj: object
    source: str  # the distribution that registered it
    target: str  # module:attribute


@dataclass(frozen=True)
class Found:
    """What discovery found in one group: usable plugins, and the ones that failed (name, error)."""

    plugins: dict[str, Plugin]
    broken: tuple[tuple[str, str], ...]


@cache
def discover(group: str) -> Found:
    """Load every entry point of a group once; later calls return the cached result."""
    plugins: dict[str, Plugin] = {}
    broken: list[tuple[str, str]] = []
    kind = group.rsplit(".", 1)[-1].rstrip("s")
    for ep in sorted(entry_points(group=group), key=lambda ep: (_dist(ep) != "ichbench", ep.name)):
        source = _dist(ep)
        if ep.name in plugins:
            kept = plugins[ep.name]
            warnings.warn(
                f"{kind} {ep.name!r} from {source} ({ep.value}) duplicates the one from {kept.source} "
                f"({kept.target}); keeping the one from {kept.source}",
                stacklevel=2,
            )
            continue
        try:
            with warnings.catch_warnings():
                # timm's import calls torch.jit.interface, deprecated in recent torch: a warning from a
                # dependency that no user of ichbench can act on, and the first line every run printed.
                warnings.filterwarnings("ignore", message=r".*torch\.jit\.interface", category=FutureWarning)
                obj = ep.load()
        except Exception as exc:  # a plugin may fail in any way; it must not take the others down
            broken.append((ep.name, f"{type(exc).__name__}: {exc}"))
            warnings.warn(
                f"{kind} plugin {ep.name!r} ({ep.value}) failed to load: {type(exc).__name__}: {exc}", stacklevel=2
            )
            continue
        plugins[ep.name] = Plugin(ep.name, obj, source, ep.value)
    return Found(plugins=plugins, broken=tuple(broken))


def _dist(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return dist.name if dist is not None else "unknown"
