"""Billing: rules as data per CMS year (rules/, rulesets/), fee schedules, the monthly run, claim lines and the
correction ledger. Claim files (837P) are written by careloop.interop.x12 from this app's selectors."""
