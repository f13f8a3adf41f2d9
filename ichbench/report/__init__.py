"""The report: tables with confidence intervals, significance tests, plots and overlays."""

from __future__ import annotations
