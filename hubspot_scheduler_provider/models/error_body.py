"""HubSpot's documented error body (the ``default`` response of every endpoint).

The hook does not need pydantic to raise errors (see :mod:`hubspot_scheduler_provider.errors`); these
models are for code that wants typed access to ``HubSpotError.errors`` or produces such bodies (the sandbox).
"""

from __future__ import annotations

from pydantic import Field

from hubspot_scheduler_provider.models._base import ResponseModel


class ErrorDetail(ResponseModel):
    __spec_schema__ = "ErrorDetail"

    code: str | None = None
    context: dict[str, list[str]] | None = None
    in_: str | None = Field(default=None, alias="in")
    message: str
    sub_category: str | None = None


class ErrorBody(ResponseModel):
    __spec_schema__ = "Error"

    category: str
    context: dict[str, list[str]] | None = None
    correlation_id: str
    errors: list[ErrorDetail] | None = None
    links: dict[str, str] | None = None
    message: str
    sub_category: str | None = None
