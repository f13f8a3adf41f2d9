"""Model registry over the `ichbench.models` entry points (see ichbench.plugins and models.contract).

Each entry point names a factory `f(in_channels=1, **kw)` returning a model that keeps the contract
in `ichbench.models.contract`.
"""

from __future__ import annotations

import fnmatch
import inspect

from ichbench.errors import ModelError
from ichbench.models.contract import check_output, input_multiple
from ichbench.plugins import Plugin, discover
from ichbench.protocol import Protocol

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


def variants(protocol: Protocol | None) -> dict[str, str]:
    """A protocol's variants: [models."NAME"] tables with `base` (a registered model), NAME -> base."""
    found = {n: str(o["base"]) for n, o in (protocol.models.items() if protocol else []) if "base" in o}
    for name, base in found.items():
        if base not in available_models():
            raise ModelError(f'[models."{name}"] base = {base!r}: no such model; available: {", ".join(list_models())}')
        if name in available_models():
            raise ModelError(f'[models."{name}"] has a base, but {name!r} is already a registered model: rename it')
    return found


def model_spec(name: str, protocol: Protocol | None = None) -> tuple[str, dict]:
    """The registered architecture and factory arguments behind a leaderboard name under a protocol.

    A factory with a `window` parameter (nnU-Net's, which plans its stages for the patch) gets the
    protocol's window side unless the protocol sets it (bundles record it with the other arguments)."""
    options = dict(protocol.models.get(name, {})) if protocol else {}
    base = str(options.pop("base", name))
    if protocol is not None and "window" not in options and _takes_window(base):
        options["window"] = protocol.windows.size
    return base, options


def resolve(names: str | list[str], protocol: Protocol | None = None) -> list[str]:
    """'all' or a comma-separated list (or list) of names: registered models and the protocol's variants."""
    known = list_models() + sorted(variants(protocol))
    if isinstance(names, str):
        names = known if names == "all" else [n.strip() for n in names.split(",") if n.strip()]
    broken = dict(broken_models())
    failed = [n for n in names if n in broken and n not in known]
    if failed:
        raise ModelError("; ".join(f"model plugin {n!r} failed to load: {broken[n]}" for n in failed))
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ModelError(f"unknown model(s) {', '.join(unknown)}; available: {', '.join(known)}")
    return list(names)


def build(name: str, protocol: Protocol | None = None):
    """The model a leaderboard name stands for under a protocol (a variant's base with its arguments),
    taking the protocol's input channels."""
    base, options = model_spec(name, protocol)
    return create_model(base, in_channels=protocol.input.count if protocol else 1, **options)


def _takes_window(name: str) -> bool:
    info = available_models().get(name)
    try:
        return info is not None and "window" in inspect.signature(info.obj).parameters
    except (TypeError, ValueError):  # a callable without a signature
        return False


def create_model(name: str, in_channels: int = 1, **kw: object):
    """Build a registered model; returns a torch module producing one logit channel."""
    info = available_models().get(name)
    if info is None:
        raise ModelError(f"unknown model {name!r}; available: {', '.join(list_models())}")
    try:
        return info.obj(in_channels=in_channels, **kw)
    except (TypeError, ValueError, KeyError, RuntimeError) as exc:  # arguments from a protocol or a bundle
        why = str(exc) if len(str(exc)) <= 400 else str(exc)[:400] + "..."
        raise ModelError(f"model {name!r} cannot be built with {kw}: {why}") from None


def check_model(name: str, protocol: Protocol) -> None:
    """Refuse, before anything trains or is written, a model that cannot take the protocol's windows:
    a window side it says it cannot divide, or an output that is not one logit per window pixel."""
    model = build(name, protocol)
    multiple, size = input_multiple(model), protocol.windows.size
    if size % multiple:
        raise ModelError(
            f"model {name!r} needs window sides divisible by {multiple}; the protocol's [windows] size is {size}"
        )
    check_output(name, model, protocol.input.count, size)
