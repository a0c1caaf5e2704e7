"""Scoring core: the competition model and pure numpy functions from hourly kWh to ranks."""
