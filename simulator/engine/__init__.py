"""One SimPy run of one cohort under one strategy."""
