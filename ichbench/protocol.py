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
from ichbench.protocol_sections import (  # noqa: F401  (re-exported: every section is part of the protocol's API)
    ADDED_LATER,
    CV,
    SECTIONS,
    Augmentation,
    DataSpec,
    InputSpec,
    Metrics,
    PhantomSpec,
    Post,
    Training,
    Windows,
)


def _preset_text(name: str) -> str:
    return resources.files("ichbench.protocols").joinpath(f"{name}.toml").read_text()


def presets() -> list[str]:
    """The protocols shipped with ichbench (ichbench/protocols/*.toml)."""
    return sorted(
        p.name[: -len(".toml")] for p in resources.files("ichbench.protocols").iterdir() if p.name.endswith(".toml")
    )


# The test: what a score means and on which subjects it is taken (see docs/protocols.md). Everything
# else is the recipe: how the model was trained and post-processed. Rows whose protocols share a test
# share a leaderboard table, so recipes are compared on one test.
TEST: dict[str, tuple[str, ...] | None] = {"data": ("exclude", "classes"), "cv": ("folds", "seed"), "metrics": None}


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
        return _digest(self._document(on_phantom))

    @property
    def test_hash(self) -> str:
        """The hash of the test alone (TEST) for a run on real data: tables are keyed by it."""
        return self.test_hash_for(on_phantom=False)

    def test_hash_for(self, on_phantom: bool) -> str:
        """The test's hash; on the phantom the [phantom] table, which defines the data, is part of the test."""
        doc = self._document(on_phantom)
        test = {
            section: {k: v for k, v in doc[section].items() if keys is None or k in keys}
            for section, keys in TEST.items()
            if section in doc
        }
        if "phantom" in doc:
            test["phantom"] = doc["phantom"]
        return _digest(test)

    @property
    def recipe_hash(self) -> str:
        """The hash of everything that is not the test: how the model was trained and post-processed."""
        doc = self._document(on_phantom=False)
        for section, keys in TEST.items():
            for key in list(doc.get(section, {})):
                if keys is None or key in keys:
                    del doc[section][key]
        return _digest({s: v for s, v in doc.items() if v})

    def weights_hash_for(self, on_phantom: bool) -> str:
        """The hash of what decides a job's trained weights: every setting but [post] and [metrics], which act
        after training, unless the kept epoch is chosen on the post-processed validation Jaccard."""
        doc = self._document(on_phantom)
        after = ("post", "metrics") if self.training.select != "val_jaccard" else ()
        return _digest({s: v for s, v in doc.items() if s not in after})

    def table_hashes(self, on_phantom: bool) -> dict[str, str]:
        """What a run records to find its leaderboard table: the test and recipe hashes of a protocol scored
        natively (its rows share a table with every recipe of the same test), empty ones otherwise."""
        if not self.metrics.native:
            return {"test_hash": "", "recipe_hash": ""}
        return {"test_hash": self.test_hash_for(on_phantom), "recipe_hash": self.recipe_hash}

    def _document(self, on_phantom: bool) -> dict[str, Any]:
        """The settings that shape a run's numbers, keys added later at their neutral values left out."""
        skip = {"name", "description"} | (set() if on_phantom else {"phantom"})
        doc = {k: v for k, v in asdict(self).items() if k not in skip}
        for (section, key), neutral in ADDED_LATER.items():  # keys added later leave older hashes unchanged
            if doc[section][key] == neutral:
                del doc[section][key]
                if not doc[section]:
                    del doc[section]
        return doc

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


def _digest(doc: dict[str, Any]) -> str:
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value)


def load_protocol(spec: str | Path) -> Protocol:
    """A preset name (see presets()) or the path of a TOML file."""
    if str(spec) in presets():
        return parse_protocol(_preset_text(str(spec)), f"preset {spec}")
    path = Path(spec)
    if not path.is_file():
        raise ProtocolError(f"{path}: no such protocol file (presets: {', '.join(presets())})")
    try:
        text = path.read_text()
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"{path}: not a UTF-8 text file ({exc})") from None
    return parse_protocol(text, str(path), path.parent)


def parse_protocol(text: str, source: str, folder: Path | None = None) -> Protocol:
    """Parse and validate protocol TOML; unknown keys and bad values are errors naming them. `extends = X`
    (a preset, or a file relative to `folder`) takes X's settings and overrides them key by key."""
    doc = _extended(_toml(text, source), source, folder)
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


def _toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProtocolError(f"{source}: invalid TOML ({exc})") from None


def _extended(doc: dict[str, Any], source: str, folder: Path | None, depth: int = 0) -> dict[str, Any]:
    """The document with its `extends` chain resolved: the base's tables, each key overridden by the child's."""
    base = doc.pop("extends", None)
    if base is None:
        return doc
    if not isinstance(base, str) or depth > 8:
        raise ProtocolError(f"{source}: 'extends' must name a preset or a protocol file, without cycles")
    path = Path(base) if folder is None else folder / base
    if base in presets():
        text, where = _preset_text(base), None
    elif path.is_file():
        text, where = path.read_text(), path.parent
    else:
        raise ProtocolError(f"{source}: extends {base!r}, which is neither a preset nor a file")
    merged = _extended(_toml(text, f"{source} -> {base}"), source, where, depth + 1)
    for key, value in doc.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value} if key != "models" else _merge_models(merged[key], value)
        else:
            merged[key] = value
    return merged


def _merge_models(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    return {**base, **{name: {**base.get(name, {}), **opts} for name, opts in child.items()}}


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
    if kind == "tuple[int, ...]" and isinstance(value, list) and all(type(v) is int for v in value):
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
    names = {
        "tuple[str, ...]": "list of strings",
        "tuple[float, ...]": "list of numbers",
        "tuple[int, ...]": "list of integers",
    }
    raise ProtocolError(
        f"{source}: [{section}] {key} must be a {names.get(kind, type(default).__name__)}, got {value!r}"
    )
