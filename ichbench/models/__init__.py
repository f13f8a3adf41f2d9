"""Architectures, discovered through the `ichbench.models` entry-point group."""

from __future__ import annotations

from ichbench.models.registry import available_models, create_model, list_models

__all__ = ["available_models", "create_model", "list_models"]
