"""Tier-0 probes: cheap measurements of a candidate quant against its baseline."""
