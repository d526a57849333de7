"""Figures and files: the only place matplotlib and file writing live."""
