"""Inference: window prediction, model bundles, and `ichbench predict` on new scans (NIfTI, DICOM, slices)."""
