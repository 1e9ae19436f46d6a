"""Insights keeps no tables: every figure is computed on read from the programs, billing, worklist and clinics
rows of the month (docs/insights.md). Assumptions are data (``data/assumptions.yaml`` plus an override file)."""
