"""Keeping an install alive across releases: update in place, carrying the user's files over."""

from __future__ import annotations

from .checkout import CARRY_OVER, UpdateResult, carry_over, update_in_place

__all__ = ["CARRY_OVER", "UpdateResult", "carry_over", "update_in_place"]
