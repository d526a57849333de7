"""NICE's severity modifier: QALY shortfall of a condition and the QALY weight that follows.

NICE health technology evaluations: the manual (PMG36, 2022), sections 6.2.12-6.2.15: severity is
the future health lost by people living with the condition with standard care, measured as the
absolute and the proportional QALY shortfall against the general population of the same age and
sex (absolute = general-population QALYs - QALYs with the condition; proportional = absolute /
general-population QALYs). Table 6.1 gives the weights; the higher of the two criteria applies and a
value on a cut-off takes the higher weight. The cut-offs were read in a code transcription citing
Table 6.1 and the weights 1.2 and 1.7 in Buchanan V et al., ISPOR Europe 2022 (docs/evidence/
economics-reference-case.md section 5): not in the NICE page itself.
"""

from __future__ import annotations

import math

# (weight, proportional shortfall at least, absolute shortfall at least), highest weight first
SEVERITY_WEIGHTS = ((1.7, 0.95, 18.0), (1.2, 0.85, 12.0))
NO_SEVERITY_WEIGHT = 1.0


def severity_weight(absolute: float, proportional: float) -> float:
    """The QALY weight of PMG36 Table 6.1 (NaN when the shortfall is not known)."""
    if math.isnan(absolute) or math.isnan(proportional):
        return math.nan
    for weight, proportional_cut, absolute_cut in SEVERITY_WEIGHTS:
        if proportional >= proportional_cut or absolute >= absolute_cut:
            return weight
    return NO_SEVERITY_WEIGHT


def shortfall(general_population_qalys: float, qalys: float) -> tuple[float, float, float]:
    """(absolute shortfall, proportional shortfall, severity weight)."""
    absolute = general_population_qalys - qalys
    proportional = absolute / general_population_qalys if general_population_qalys > 0 else math.nan
    return absolute, proportional, severity_weight(absolute, proportional)
