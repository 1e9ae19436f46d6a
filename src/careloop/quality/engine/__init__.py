"""The measure engine: time, FHIR data access, value sets and logic shared across measures. Pure Python, no DB."""
