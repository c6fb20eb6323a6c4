"""Base classes: snake_case attributes, HubSpot's camelCase names on the wire.

Requests forbid unknown fields so a typo fails before anything is sent; responses allow (and keep)
unknown fields so a field HubSpot adds later neither breaks a DAG nor gets lost.
Each model names the OpenAPI schema it mirrors in ``__spec_schema__``; a test checks every model
against HubSpot's specs for every API version. Booleans are ``StrictBool``: pydantic would otherwise
read the string ``"false"`` as ``False`` and ``"no"`` as an error only sometimes; an answer that breaks
the spec's ``type: boolean`` fails parsing (a ``HubSpotResponseError`` with the correlation id).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class _WireModel(BaseModel):
    #: Name of the schema in ``components.schemas`` of HubSpot's spec this model mirrors.
    __spec_schema__: ClassVar[str]

    def to_wire_dict(self) -> dict[str, Any]:
        """JSON-ready dict with HubSpot's field names; unset optional fields are left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class RequestModel(_WireModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class ResponseModel(_WireModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


class SnakeCaseRequestModel(RequestModel):
    """CRM property bags are snake_case on the wire too (``hs_meeting_title``)."""

    model_config = ConfigDict(alias_generator=None, extra="forbid")


class SnakeCaseResponseModel(ResponseModel):
    model_config = ConfigDict(alias_generator=None, extra="allow")
