"""Compliance: folder policy, data scan, regimes, checklist, attestations, drills and reviews."""
