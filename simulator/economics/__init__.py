"""Health economics: costs and QALYs valued from the event log, incremental analysis, PSA and DSA.

Data flow: the simulation writes the event log; ``valuation`` turns it into per-patient costs,
life-years and QALYs (continuous-time discounting); ``cea`` compares strategies (dominance, ICERs,
net monetary benefit, CEAC, CEAF, EVPI); ``sampling`` draws parameter sets for probabilistic
sensitivity analysis. The analyses themselves are experiments (``experiments.psa``, ``experiments.dsa``),
their run folders commands (``commands.psa``, ``commands.dsa``). Every number comes
from the parameter library (``params/library/economics.yaml``) or the scenario's ``economics:``
section.
"""
