"""Regulated-data detection: detectors (pure functions over text) and the scan."""
