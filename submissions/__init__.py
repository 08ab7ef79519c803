"""Endpoint submissions (intake, validation, SSRF guard, health probe): built with the Space issue."""
