"""The sandbox's routes and JSON-schema validators, read from HubSpot's own OpenAPI specs.

Every route the sandbox serves is an operation of one of the specs in ``specs/`` (plus the CRM contacts
read, which has no spec file here and borrows the CRM object schema). Paths, accepted scopes (the
operation's ``security``), query parameters and the request/response schemas all come from the spec
file, so the sandbox cannot drift from HubSpot's published contract.

Notes on what the specs actually use:

* ``$ref`` only to ``#/components/schemas/...``: a validator is built on ``{"$ref": ..., "components": ...}``
  so references resolve inside the same document. No ``nullable`` occurs in the specs.
* ``format`` is asserted, both ways (requests and answers): ``date-time``, ``int32``/``int64`` and
  ``uuid`` with the rules of ``testing.formats``. Where a spec file's format contradicts HubSpot's own
  data (2026-09 declares epoch milliseconds as ``int32``), ``testing.deviations.SPEC_CORRECTIONS``
  corrects the document once, at load.
* Validators are compiled lazily, once per (spec, schema) and cached; importing this module is cheap.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from hubspot_scheduler_provider.testing.deviations import corrected
from hubspot_scheduler_provider.testing.formats import format_checker, in_range, query_integer

SPEC_DIR = Path(__file__).resolve().parent / "specs"

SCHEDULER_SPECS = {
    "v3": "scheduler-meetings-v3.json",
    "2026-03": "scheduler-meetings-2026-03.json",
    "2026-09": "scheduler-meetings-2026-09.json",
}
CRM_MEETINGS_SPEC = "crm-meetings-v3.json"
#: An excerpt of HubSpot's associations v4 spec: the batch read only (see ``specs/SOURCE.md``).
CRM_ASSOCIATIONS_SPEC = "crm-associations-v4-batch-read.json"
OAUTH_SPEC = "oauth-v1.json"
ACCOUNT_INFO_SPEC = "account-info-v3.json"

#: (method, spec path with the version prefix cut off) -> handler name, for the scheduler specs.
_SCHEDULER_OPERATIONS = {
    ("GET", "/meetings/meeting-links"): "list_links",
    ("GET", "/meetings/meeting-links/book/{slug}"): "booking_info",
    ("GET", "/meetings/meeting-links/book/availability-page/{slug}"): "availability",
    ("POST", "/meetings/meeting-links/book"): "book",
    ("POST", "/meetings/calendar"): "calendar",
    ("PATCH", "/meetings/meeting-links/{meetingLinkSlug}"): "update_link",
}
#: (spec file, method, spec path) -> handler name, for the other specs.
_OTHER_OPERATIONS = {
    (CRM_MEETINGS_SPEC, "POST", "/crm/v3/objects/meetings/search"): "crm_meetings_search",
    (CRM_MEETINGS_SPEC, "GET", "/crm/v3/objects/meetings/{meetingId}"): "crm_meeting_get",
    (CRM_MEETINGS_SPEC, "PATCH", "/crm/v3/objects/meetings/{meetingId}"): "crm_meeting_update",
    (
        CRM_ASSOCIATIONS_SPEC,
        "POST",
        "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/read",
    ): "crm_associations_batch_read",
    (ACCOUNT_INFO_SPEC, "GET", "/account-info/v3/details"): "account_details",
    (OAUTH_SPEC, "POST", "/oauth/v1/token"): "oauth_token",
}
CONTACTS_READ_SCOPE = "crm.objects.contacts.read"
_REQUIRED_MESSAGE = re.compile(r"'(.+)' is a required property")


class SpecFile:
    """One OpenAPI document and its lazily compiled, cached validators."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._validators: dict[str, Any] = {}
        self._lock = threading.Lock()

    @cached_property
    def document(self) -> dict[str, Any]:
        with (SPEC_DIR / self.name).open(encoding="utf-8") as handle:
            loaded: dict[str, Any] = json.load(handle)
        return corrected(self.name, loaded)

    def validator(self, schema: dict[str, Any]) -> Any:
        """A compiled validator for ``schema`` (a ``$ref`` or inline schema of this document)."""
        key = json.dumps(schema, sort_keys=True)
        with self._lock:
            compiled = self._validators.get(key)
            if compiled is None:
                from jsonschema import Draft4Validator  # imported late: only needed once serving

                root = {**schema, "components": self.document.get("components", {})}
                compiled = self._validators[key] = Draft4Validator(root, format_checker=format_checker())
            return compiled

    def schema_errors(self, schema: dict[str, Any], instance: Any) -> list[dict[str, str]]:
        """HubSpot-style error details for ``instance`` against ``schema``; empty when valid."""
        details = []
        for error in sorted(self.validator(schema).iter_errors(instance), key=lambda err: list(err.path)):
            location = ".".join(str(part) for part in error.absolute_path)
            if error.validator == "required":
                # Name the missing field itself, as HubSpot does, rather than its parent object.
                missing = _REQUIRED_MESSAGE.match(error.message)
                location = ".".join(filter(None, (location, missing.group(1) if missing else "")))
            location = location or "body"
            details.append(
                {"message": f"{location}: {error.message}", "in": location, "code": error.validator}
            )
        return details


@dataclass(frozen=True)
class QueryParam:
    name: str
    required: bool
    schema: dict[str, Any]


@dataclass(frozen=True)
class Operation:
    """One served operation: where it lives, who may call it and what goes in and out."""

    handler: str
    method: str
    template: str
    spec: SpecFile
    #: Scheduler API version name for scheduler routes, else None.
    api_version: str | None
    #: Any one of these scopes suffices; empty means the route needs no bearer token.
    scopes: tuple[str, ...]
    query_params: tuple[QueryParam, ...]
    request_schema: dict[str, Any] | None
    request_content_type: str | None
    response_schema: dict[str, Any] | None
    pattern: re.Pattern[str] = field(compare=False, repr=False)

    def match(self, raw_path: str) -> dict[str, str] | None:
        found = self.pattern.fullmatch(raw_path)
        if found is None:
            return None
        return {name: unquote(value) for name, value in found.groupdict().items()}


def _compile_template(template: str) -> re.Pattern[str]:
    # A path parameter is ONE raw segment: slugs with "/" arrive percent-encoded ("%2F").
    parts = re.split(r"(\{[A-Za-z]+\})", template)
    regex = "".join(f"(?P<{part[1:-1]}>[^/]+)" if part.startswith("{") else re.escape(part) for part in parts)
    return re.compile(regex)


def _build_operation(
    spec: SpecFile, method: str, template: str, handler: str, version: str | None
) -> Operation:
    raw = spec.document["paths"][template][method.lower()]
    scopes = tuple(
        scope for requirement in raw.get("security", []) for scope in requirement.get("oauth2", [])
    )
    params = tuple(
        QueryParam(param["name"], bool(param.get("required")), param.get("schema", {}))
        for param in raw.get("parameters", [])
        if param.get("in") == "query"
    )
    request_schema = content_type = None
    if "requestBody" in raw:
        content_type, media = next(iter(raw["requestBody"]["content"].items()))
        request_schema = media["schema"]
    response_schema = None
    for code in ("200", "201"):
        content = raw.get("responses", {}).get(code, {}).get("content", {})
        if "application/json" in content:
            response_schema = content["application/json"]["schema"]
            break
    return Operation(
        handler=handler,
        method=method,
        template=template,
        spec=spec,
        api_version=version,
        scopes=scopes,
        query_params=params,
        request_schema=request_schema,
        request_content_type=content_type,
        response_schema=response_schema,
        pattern=_compile_template(template),
    )


ERROR_SCHEMA = {"$ref": "#/components/schemas/Error"}


class SpecCatalog:
    """All spec files and the route table built from them (built on first use)."""

    def __init__(self) -> None:
        self.files = {
            name: SpecFile(name)
            for name in (
                *SCHEDULER_SPECS.values(),
                CRM_MEETINGS_SPEC,
                CRM_ASSOCIATIONS_SPEC,
                OAUTH_SPEC,
                ACCOUNT_INFO_SPEC,
            )
        }

    @cached_property
    def operations(self) -> tuple[Operation, ...]:
        built = []
        for version, file_name in SCHEDULER_SPECS.items():
            for (method, suffix), handler in _SCHEDULER_OPERATIONS.items():
                template = f"/scheduler/{version}{suffix}"
                if method.lower() not in self.files[file_name].document["paths"].get(template, {}):
                    continue  # e.g. the meeting-link PATCH, which only v3 has
                built.append(_build_operation(self.files[file_name], method, template, handler, version))
        for (file_name, method, template), handler in _OTHER_OPERATIONS.items():
            built.append(_build_operation(self.files[file_name], method, template, handler, None))
        built.append(self._contacts_operation())
        # Most literal characters first, so ".../book/availability-page/{slug}" wins over ".../book/{slug}".
        built.sort(key=lambda op: -len(re.sub(r"\{[^}]+\}", "", op.template)))
        return tuple(built)

    def _contacts_operation(self) -> Operation:
        # No contacts spec ships with the package; a contact has the same shape as any CRM object.
        template = "/crm/v3/objects/contacts/{contactId}"
        return Operation(
            handler="contact_get",
            method="GET",
            template=template,
            spec=self.files[CRM_MEETINGS_SPEC],
            api_version=None,
            scopes=(CONTACTS_READ_SCOPE,),
            query_params=(QueryParam("idProperty", False, {"type": "string"}),),
            request_schema=None,
            request_content_type=None,
            response_schema={"$ref": "#/components/schemas/SimplePublicObjectWithAssociations"},
            pattern=_compile_template(template),
        )

    def route(self, method: str, raw_path: str) -> tuple[Operation, dict[str, str]] | None:
        """The operation serving ``method raw_path`` and its decoded path parameters. The most literal
        matching path wins, as in the specs (``.../meeting-links/book`` is not the slug ``book``)."""
        template = self._template_of(raw_path)
        for operation in self.operations:
            if operation.template == template and operation.method == method:
                params = operation.match(raw_path)
                if params is not None:
                    return operation, params
        return None

    def methods_of(self, raw_path: str) -> list[str]:
        """The methods served on ``raw_path`` (empty: no such path), for a 405's ``Allow`` header."""
        template = self._template_of(raw_path)
        return sorted({op.method for op in self.operations if op.template == template})

    def _template_of(self, raw_path: str) -> str | None:
        # ``operations`` is sorted most literal first.
        return next((op.template for op in self.operations if op.match(raw_path) is not None), None)


_CATALOG: SpecCatalog | None = None
_CATALOG_LOCK = threading.Lock()


def catalog() -> SpecCatalog:
    """The process-wide catalogue (specs are read-only, so sandboxes share parsed specs and validators)."""
    global _CATALOG
    with _CATALOG_LOCK:
        if _CATALOG is None:
            _CATALOG = SpecCatalog()
        return _CATALOG


def coerce_query(
    operation: Operation, query: dict[str, list[str]]
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Typed query parameters of ``operation`` and HubSpot-style details of what is wrong with them."""
    values: dict[str, Any] = {}
    problems: list[dict[str, str]] = []
    for param in operation.query_params:
        raw = query.get(param.name)
        if not raw:
            if param.required:
                problems.append(
                    {
                        "message": f"{param.name}: required query parameter is missing",
                        "in": param.name,
                        "code": "REQUIRED",
                    }
                )
            continue
        text = raw[0]
        kind = param.schema.get("type")
        if kind == "integer":
            number = query_integer(text)
            if number is None or not in_range(number, param.schema.get("format", "int64")):
                problems.append(
                    {
                        "message": f"{param.name}: {text[:40]!r} is not an integer "
                        f"({param.schema.get('format', 'int64')})",
                        "in": param.name,
                        "code": "INVALID_INTEGER",
                    }
                )
                continue
            values[param.name] = number
        elif kind == "array":
            values[param.name] = [item for chunk in raw for item in chunk.split(",") if item]
        elif kind == "boolean":
            if text.lower() not in ("true", "false"):
                problems.append(
                    {
                        "message": f"{param.name}: must be true or false",
                        "in": param.name,
                        "code": "INVALID_BOOLEAN",
                    }
                )
                continue
            values[param.name] = text.lower() == "true"
        else:
            values[param.name] = text
        allowed = param.schema.get("enum")
        if allowed and values[param.name] not in allowed:
            problems.append(
                {
                    "message": f"{param.name}: {text[:40]!r} is not one of {', '.join(allowed)}",
                    "in": param.name,
                    "code": "INVALID_ENUM",
                }
            )
    return values, problems
