"""Watt League command-line application: demo, simulator and helpers."""
