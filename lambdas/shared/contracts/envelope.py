"""The EventBridge event around a contract's detail, as a generic pydantic model."""

from __future__ import annotations

from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

DetailT = TypeVar("DetailT", bound=BaseModel)


class EventBridgeEvent(BaseModel, Generic[DetailT]):
    """What EventBridge delivers to a target: the envelope fields and the typed detail."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    id: str
    source: str
    detail_type: str = Field(alias="detail-type")
    account: str
    time: datetime
    region: str
    resources: list[str] = []
    detail: DetailT
