"""Insights has no background jobs: the report is computed on request from set-based reads."""
