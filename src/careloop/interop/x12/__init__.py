"""X12 5010 claims: the 837P writer (005010X222A1), its pyx12 validation, and the billing-month export."""
