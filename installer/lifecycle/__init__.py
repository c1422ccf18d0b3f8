"""Keeping an install alive across releases: update in place, models beside the checkout."""

from __future__ import annotations

from . import transaction
from .checkout import CARRY_OVER, UpdateResult, carry_over, update_in_place
from .models_home import (
    MODEL_FOLDERS,
    Migration,
    checkpoint_in_place,
    checkpoint_path,
    migrate_models,
    models_to_migrate,
    write_extra_model_paths,
)

__all__ = [
    "CARRY_OVER",
    "MODEL_FOLDERS",
    "Migration",
    "UpdateResult",
    "carry_over",
    "checkpoint_in_place",
    "checkpoint_path",
    "migrate_models",
    "models_to_migrate",
    "transaction",
    "update_in_place",
    "write_extra_model_paths",
]
