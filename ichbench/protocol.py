"""Protocols are data: small TOML files, loaded into a dataclass, identified by a canonical hash."""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

from ichbench.errors import ProtocolError
from ichbench.protocol_checks import validate


def presets() -> list[str]:
    """The protocols shipped with ichbench (ichbench/protocols/*.toml)."""
    return sorted(
        p.name[: -len(".toml")] for p in resources.files("ichbench.protocols").iterdir() if p.name.endswith(".toml")
    )


@dataclass(frozen=True)
class Augmentation:
    """Ranges of the random affine transform; all zero means no augmentation."""

    rotation: float = 20.0
    shift: float = 0.1
    shear: float = 0.1
    zoom: float = 0.2

    @property
    def enabled(self) -> bool:
        """Does any range differ from zero."""
        return any((self.rotation, self.shift, self.shear, self.zoom))


@dataclass(frozen=True)
class DataSpec:
    """What of the data set a protocol uses."""

    exclude: tuple[str, ...] = ()  # subject ids removed before the folds are made (absent ones are ignored)
    scale: float = 1.0  # in-plane downsampling on load, 1 / n (see ichbench.data.scale)


@dataclass(frozen=True)
class InputSpec:
    """What every model sees (see ichbench.data.inputs): display windows and slices of context either side."""

    channels: tuple[str, ...] = ("brain",)
    context: int = 0

    @property
    def count(self) -> int:
        """C, the number of input channels."""
        return len(self.channels) * (2 * self.context + 1)

    def offsets(self) -> list[int]:
        """Slice offsets in channel order: 0, -1, +1, -2, +2, ..."""
        return [0] + [d for k in range(1, self.context + 1) for d in (-k, k)]

    def labels(self) -> list[str]:
        """A name per channel, e.g. 'brain', 'bone', 'brain-1', 'bone+1'."""
        return [f"{c}{'' if d == 0 else f'{d:+d}'}" for d in self.offsets() for c in self.channels]

    def needs(self, window: str) -> bool:
        """Does this input use a display window (and so must the data set hold it)."""
        return window in self.channels


@dataclass(frozen=True)
class PhantomSpec:
    """The built-in phantom used when no data set is given."""

    subjects: int = 20
    slices: int = 24
    size: int = 640
    seed: int = 0


@dataclass(frozen=True)
class CV:
    """Subject-wise cross-validation."""

    folds: int = 5
    seed: int = 0
    val_fraction: float = 0.2


@dataclass(frozen=True)
class Windows:
    """The window grid."""

    size: int = 160
    stride: int = 80


@dataclass(frozen=True)
class Training:
    """Optimisation of one job."""

    epochs: int = 100
    batch_size: int = 32
    optimizer: str = "adam"
    lr: float = 1e-5
    loss: str = "bce"
    select: str = "val_jaccard"  # "val_soft_jaccard" (the original code's Keras monitor) or "last" (validation.py)
    seed: int = 0
    schedule: str = "none"  # learning rate per epoch: "none", "poly" (nnU-Net's) or "cosine"
    weight_decay: float = 0.0
    fused: bool = False  # torch's fused Adam(W) kernel: the same update, faster, rounded differently
    # bf16 autocast: "auto" where the device does bf16 fast (CUDA; CPUs with AVX-512 BF16 or AMX), "bf16",
    # "fp32", or "cuda-bf16" (on CUDA only: the behaviour before this key existed, hence the default).
    precision: str = "cuda-bf16"


# Keys added after protocols were first hashed, with the value that reproduces the old behaviour: at
# that value they stay out of the hash, so every earlier protocol (and its leaderboard table) keeps it.
# A section all of whose keys are at those values leaves the hash altogether.
ADDED_LATER: dict[tuple[str, str], Any] = {
    ("training", "schedule"): "none",
    ("training", "weight_decay"): 0.0,
    ("training", "fused"): False,
    ("training", "precision"): "cuda-bf16",
    ("input", "channels"): ("brain",),
    ("input", "context"): 0,
}


@dataclass(frozen=True)
class Post:
    """From window probabilities to masks."""

    threshold: float = 0.9
    threshold_search: bool = False
    threshold_grid: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    weighting: str = "mean"
    close: int = 10
    open: int = 5


@dataclass(frozen=True)
class Metrics:
    """Scoring options."""

    detection_pixels: int = 400


@dataclass(frozen=True)
class Protocol:
    """A complete, hashable benchmark protocol."""

    name: str
    description: str = ""
    data: DataSpec = field(default_factory=DataSpec)
    input: InputSpec = field(default_factory=InputSpec)
    phantom: PhantomSpec = field(default_factory=PhantomSpec)
    cv: CV = field(default_factory=CV)
    windows: Windows = field(default_factory=Windows)
    augmentation: Augmentation = field(default_factory=Augmentation)
    training: Training = field(default_factory=Training)
    post: Post = field(default_factory=Post)
    metrics: Metrics = field(default_factory=Metrics)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)  # factory keyword arguments per model

    @property
    def hash(self) -> str:
        """The hash of a run on real data: every setting that shapes its numbers (not the phantom's)."""
        return self.hash_for(on_phantom=False)

    def hash_for(self, on_phantom: bool) -> str:
        """SHA-256 (12 hex digits) of the canonical JSON of every setting except name and description;
        the [phantom] table counts only for runs on the phantom, whose data it defines."""
        skip = {"name", "description"} | (set() if on_phantom else {"phantom"})
        doc = {k: v for k, v in asdict(self).items() if k not in skip}
        for (section, key), neutral in ADDED_LATER.items():  # keys added later leave older hashes unchanged
            if doc[section][key] == neutral:
                del doc[section][key]
                if not doc[section]:
                    del doc[section]
        canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    def to_toml(self) -> str:
        """The protocol as TOML text (round-trips through load_protocol)."""
        lines = [f"name = {json.dumps(self.name)}", f"description = {json.dumps(self.description)}"]
        for name in SECTIONS:
            lines.append(f"\n[{name}]")
            for key, value in asdict(getattr(self, name)).items():
                lines.append(f"{key} = {_toml_value(value)}")
        for model, options in sorted(self.models.items()):
            lines.append(f"\n[models.{json.dumps(model)}]")
            lines += [f"{key} = {_toml_value(value)}" for key, value in sorted(options.items())]
        return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value)


SECTIONS = {
    "data": DataSpec,
    "input": InputSpec,
    "phantom": PhantomSpec,
    "cv": CV,
    "windows": Windows,
    "augmentation": Augmentation,
    "training": Training,
    "post": Post,
    "metrics": Metrics,
}


def load_protocol(spec: str | Path) -> Protocol:
    """A preset name (see presets()) or the path of a TOML file."""
    if str(spec) in presets():
        text = resources.files("ichbench.protocols").joinpath(f"{spec}.toml").read_text()
        return parse_protocol(text, f"preset {spec}")
    path = Path(spec)
    if not path.is_file():
        raise ProtocolError(f"{path}: no such protocol file (presets: {', '.join(presets())})")
    try:
        text = path.read_text()
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"{path}: not a UTF-8 text file ({exc})") from None
    return parse_protocol(text, str(path))


def parse_protocol(text: str, source: str) -> Protocol:
    """Parse and validate protocol TOML; unknown keys and bad values are errors naming them."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProtocolError(f"{source}: invalid TOML ({exc})") from None
    if "name" not in doc:
        raise ProtocolError(f"{source}: missing 'name'")
    unknown = set(doc) - {"name", "description", "models"} - set(SECTIONS)
    if unknown:
        raise ProtocolError(f"{source}: unknown section(s) {', '.join(sorted(unknown))}")
    parts = {name: _section(source, name, cls, doc.get(name, {})) for name, cls in SECTIONS.items()}
    models = _models(source, doc.get("models", {}))
    protocol = Protocol(name=str(doc["name"]), description=str(doc.get("description", "")), models=models, **parts)
    validate(source, protocol)
    return protocol


def _section(source: str, name: str, cls: type, values: dict) -> Any:
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ProtocolError(f"{source}: unknown key(s) in [{name}]: {', '.join(sorted(unknown))}")
    defaults = cls()
    types = {f.name: str(f.type) for f in fields(cls)}
    converted = {
        key: _coerce(source, name, key, getattr(defaults, key), value, types[key]) for key, value in values.items()
    }
    return cls(**converted)


def _models(source: str, table: Any) -> dict[str, dict[str, Any]]:
    """[models.NAME] tables of scalar keyword arguments."""
    ok = isinstance(table, dict) and all(
        isinstance(opts, dict) and all(isinstance(v, (bool, int, float, str)) for v in opts.values())
        for opts in table.values()
    )
    if not ok:
        raise ProtocolError(f"{source}: [models.NAME] tables must hold scalar keyword arguments")
    return {name: dict(opts) for name, opts in table.items()}


def _coerce(source: str, section: str, key: str, default: Any, value: Any, kind: str) -> Any:
    """The value in the type of the default (`kind` is the field's annotation); bools are never numbers."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "tuple[str, ...]" and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    if (
        kind == "tuple[float, ...]"
        and isinstance(value, list)
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        return tuple(float(v) for v in value)
    if isinstance(default, bool) and isinstance(value, bool):
        return value
    if isinstance(default, float) and number:
        return float(value)
    if isinstance(default, int) and not isinstance(default, bool) and isinstance(value, int) and number:
        return value
    if isinstance(default, str) and isinstance(value, str):
        return value
    names = {"tuple[str, ...]": "list of strings", "tuple[float, ...]": "list of numbers"}
    raise ProtocolError(
        f"{source}: [{section}] {key} must be a {names.get(kind, type(default).__name__)}, got {value!r}"
    )
