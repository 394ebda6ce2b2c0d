"""``courtyard demo``: a whole community on one machine, on embedded defaults."""
