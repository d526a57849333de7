"""Figures, report.html and tables for printing: the only place matplotlib lives. Output folders are
written by the commands (simulator/commands/), which call these."""
