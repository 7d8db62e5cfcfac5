"""What every section of the policy document is built of (`core.policy`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Positive = Annotated[int, Field(gt=0)]
Percent = Annotated[float, Field(ge=0, le=100)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
