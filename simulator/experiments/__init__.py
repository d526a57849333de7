"""Designs of runs: strategies x replications (x PSA draws x variants later)."""
