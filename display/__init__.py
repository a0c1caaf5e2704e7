"""Displays: from a site's state (as the api serves it) to what a physical display shows."""
