"""Endpoint submissions: intake, validation, SSRF guard and health probe (the Space issue)."""
