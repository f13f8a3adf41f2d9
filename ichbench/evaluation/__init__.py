"""Evaluation: the exact metric definitions and scoring of a model's masks against labelled subjects."""
