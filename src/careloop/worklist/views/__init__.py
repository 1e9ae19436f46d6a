"""Worklist UI views (templates in templates/worklist/)."""
