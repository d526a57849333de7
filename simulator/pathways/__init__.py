"""Clinical rules: treatment modalities and strategies (ordered rules that pick the next treatment)."""

from __future__ import annotations

from .ablation import ThermalAblation
from .base import CostItems, Modality, check_declarations
from .intra_arterial import intra_arterial_modalities
from .registry import MODALITIES, procedure_kinds, register
from .supportive import supportive_modalities
from .surgery import Hepatectomy, LiverTransplant
from .systemic import systemic_modalities


def all_modalities() -> dict[str, Modality]:
    modalities: list[Modality] = [
        Hepatectomy(),
        LiverTransplant(),
        ThermalAblation(),
        *intra_arterial_modalities(),
        *systemic_modalities(),
        *supportive_modalities(),
    ]
    return {m.name: m for m in modalities}


for _modality in all_modalities().values():
    register(_modality)
FALLBACK_TREATMENT = "best_supportive_care"

__all__ = [
    "MODALITIES",
    "FALLBACK_TREATMENT",
    "CostItems",
    "Modality",
    "all_modalities",
    "check_declarations",
    "procedure_kinds",
    "register",
]
