"""Executors run a run's (model, fold) jobs: local (sequential, the default) or ray (optional extra)."""

from __future__ import annotations
