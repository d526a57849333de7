"""The treatments a strategy can name, by name: filled by ``pathways/__init__.py`` and by ``register``."""

from __future__ import annotations

from .base import Modality

MODALITIES: dict[str, Modality] = {}


def register(modality: Modality) -> Modality:
    """Make ``modality`` available to strategies, the hospital and the valuation. Its declarations are
    checked when a model that uses it is built (``base.check_declarations``)."""
    if not modality.name:
        raise ValueError(f"{type(modality).__name__} needs a name to be registered")
    if modality.name in MODALITIES:
        raise ValueError(f"a treatment named {modality.name!r} is already registered")
    MODALITIES[modality.name] = modality
    return modality


def procedure_kinds() -> tuple[str, ...]:
    """Treatments whose sessions are procedure events, in registration order (patient-table columns n_<kind>)."""
    return tuple(name for name, modality in MODALITIES.items() if modality.records_procedures)
