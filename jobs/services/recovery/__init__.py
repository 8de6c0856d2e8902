"""Repair of work that fell through the cracks: stale and expired units, dead letters and their redrive."""
