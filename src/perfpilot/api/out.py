"""The base of every response model."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Out(BaseModel):
    # from_attributes: the domain dataclasses validate straight into these models.
    model_config = ConfigDict(frozen=True, from_attributes=True)
