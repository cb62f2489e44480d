"""Reduction with provenance: calibrate electrochemical models, fit ECMs, validate, emit parameter files."""
