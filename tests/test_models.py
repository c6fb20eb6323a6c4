"""The pydantic models against HubSpot's OpenAPI specs, for every Scheduler API version.

The specs are the contract: field names (wire aliases), types and required lists are read from
``components.schemas`` and compared with each model, so a model that drifts from the spec (or a spec
update that changes a schema) fails here.
"""

from __future__ import annotations

import json
import subprocess
import sys
import types
import typing
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pydantic import AwareDatetime, BaseModel, Strict, ValidationError

import hubspot_scheduler_provider.models as models
from hubspot_scheduler_provider.api_versions import API_VERSIONS, get_api_version
from hubspot_scheduler_provider.models._base import RequestModel, ResponseModel
from tests.hooks.conftest import Answer, ScriptedServer, set_connection
from tests.operators.conftest import BOOKER
from tests.reliability.test_bad_responses import VALID_BOOKING_ANSWER as BOOKING_ANSWER

if typing.TYPE_CHECKING:
    from collections.abc import Iterator

SPECS_DIR = Path(models.__file__).resolve().parent.parent / "testing" / "specs"
SHARED_SPECS_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "hubspot-openapi"
VERSIONS = sorted(API_VERSIONS)
ALL_MODELS: list[type[BaseModel]] = sorted(
    (
        obj
        for obj in vars(models).values()
        if isinstance(obj, type) and issubclass(obj, (RequestModel, ResponseModel))
    ),
    key=lambda cls: cls.__name__,
)


@cache
def spec(version: str) -> dict[str, Any]:
    return json.loads((SPECS_DIR / f"scheduler-meetings-{version}.json").read_text())


def schemas(version: str) -> dict[str, dict[str, Any]]:
    return spec(version)["components"]["schemas"]  # type: ignore[no-any-return]


def ref_name(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref")
    return ref.rsplit("/", 1)[-1] if ref else None


def models_for(schema_name: str) -> list[type[BaseModel]]:
    return [m for m in ALL_MODELS if m.__spec_schema__ == schema_name]  # type: ignore[attr-defined]


def schemas_reachable(version: str, schema: dict[str, Any], seen: set[str]) -> None:
    """Add every component schema reachable from ``schema`` to ``seen``."""
    name = ref_name(schema)
    if name:
        if name in seen:
            return
        seen.add(name)
        schema = schemas(version)[name]
    for child in [
        *schema.get("properties", {}).values(),
        schema.get("items"),
        schema.get("additionalProperties"),
    ]:
        if isinstance(child, dict):
            schemas_reachable(version, child, seen)


def endpoint_schemas(version: str) -> tuple[set[str], set[str]]:
    """(schemas used by request bodies, schemas used by answers) of every scheduler endpoint."""
    requests_, responses = set[str](), set[str]()
    components = spec(version)["components"]
    for operations in spec(version)["paths"].values():
        for operation in operations.values():
            for content in operation.get("requestBody", {}).get("content", {}).values():
                schemas_reachable(version, content["schema"], requests_)
            for answer in operation["responses"].values():
                if ref_name(answer):  # "$ref": "#/components/responses/Error"
                    answer = components["responses"][ref_name(answer)]
                for content in answer.get("content", {}).values():
                    schemas_reachable(version, content["schema"], responses)
    return requests_, responses


# --------------------------------------------------------------------------------------------- coverage
@pytest.mark.parametrize("version", VERSIONS)
def test_every_schema_of_every_endpoint_has_a_model(version: str) -> None:
    request_schemas, response_schemas = endpoint_schemas(version)
    assert "ExternalMeetingBooking" in request_schemas and "ExternalBookingInfo" in response_schemas
    for name in sorted(request_schemas):
        assert any(issubclass(m, RequestModel) for m in models_for(name)), f"no request model for {name}"
    for name in sorted(response_schemas):
        assert any(issubclass(m, ResponseModel) for m in models_for(name)), f"no response model for {name}"


def test_every_model_names_a_schema_of_some_version() -> None:
    known = {name for version in VERSIONS for name in schemas(version)}
    assert len(ALL_MODELS) >= 40
    for model in ALL_MODELS:
        assert model.__spec_schema__ in known, model  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------- field drift
def _strip_none(annotation: Any) -> tuple[Any, bool]:
    """(annotation without None, whether None was allowed)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        allows_none = len(args) < len(typing.get_args(annotation))
        rest = args[0] if len(args) == 1 else typing.Union[tuple(args)]  # noqa: UP007
        return rest, allows_none
    return annotation, False


def type_problem(annotation: Any, schema: dict[str, Any], version: str, in_request: bool) -> str | None:
    """Why ``annotation`` does not implement ``schema`` (None when it does)."""
    name = ref_name(schema)
    if name:
        expected_base = RequestModel if in_request else ResponseModel
        ok = (
            isinstance(annotation, type)
            and issubclass(annotation, expected_base)
            and annotation.__spec_schema__ == name  # type: ignore[attr-defined]
        )
        return None if ok else f"{annotation!r} is not a {expected_base.__name__} for {name}"
    kind = schema.get("type")
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if kind == "array":
        if origin is not list:
            return f"{annotation!r} is not a list"
        return type_problem(args[0], schema["items"], version, in_request)
    if kind == "object" and "additionalProperties" in schema:
        if origin is not dict or args[0] is not str:
            return f"{annotation!r} is not dict[str, ...]"
        return type_problem(args[1], schema["additionalProperties"], version, in_request)
    if kind == "string" and schema.get("format") == "date-time":
        ok = annotation in (datetime, AwareDatetime)
        return None if ok else f"{annotation!r} is not a datetime"
    if kind == "string" and "enum" in schema and in_request:
        # Requests check enumerations before sending: exactly the spec's values.
        if origin is not typing.Literal:
            return f"{annotation!r} is not a Literal of {schema['enum']}"
        return None if sorted(args) == sorted(schema["enum"]) else f"{args} != {schema['enum']}"
    # Responses keep enumerations as str so a value HubSpot adds later does not fail a DAG.
    python_type = {"string": str, "integer": int, "number": float, "boolean": bool}[kind]  # type: ignore[index]
    return None if annotation is python_type else f"{annotation!r} is not {python_type.__name__}"


MODEL_VERSION_CASES = [
    pytest.param(model, version, id=f"{model.__name__}-{version}")
    for model in ALL_MODELS
    for version in VERSIONS
    if model.__spec_schema__ in schemas(version)  # type: ignore[attr-defined]
]


@pytest.mark.parametrize(("model", "version"), MODEL_VERSION_CASES)
def test_model_matches_spec(model: type[BaseModel], version: str) -> None:
    schema = schemas(version)[model.__spec_schema__]  # type: ignore[attr-defined]
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    fields = {(info.alias or name): (name, info) for name, info in model.model_fields.items()}
    in_request = issubclass(model, RequestModel)

    # Names: every spec field is modelled; a model field missing from this version's spec must be
    # documented by another version (e.g. paymentLinkId, only in v3 and 2026-03).
    assert set(properties) <= set(fields), f"missing fields: {set(properties) - set(fields)}"
    other_versions = {
        prop
        for other in VERSIONS
        for prop in schemas(other).get(model.__spec_schema__, {}).get("properties", {})  # type: ignore[attr-defined]
    }
    assert set(fields) <= other_versions, f"fields in no spec: {set(fields) - other_versions}"

    for wire_name, prop_schema in properties.items():
        attribute, info = fields[wire_name]
        annotation, allows_none = _strip_none(info.annotation)
        metadata = list(info.metadata)
        if typing.get_origin(annotation) is typing.Annotated:  # ``StrictBool | None``
            annotation, *more = typing.get_args(annotation)
            metadata.extend(more)
        problem = type_problem(annotation, prop_schema, version, in_request)
        if prop_schema.get("type") == "boolean" and not any(isinstance(m, Strict) for m in metadata):
            # pydantic's lax bool reads the string "false" as False; the spec says a JSON boolean.
            problem = f"{annotation!r} is not StrictBool"
        assert problem is None, f"{model.__name__}.{attribute} ({wire_name}): {problem}"
        if wire_name in required:
            assert not allows_none, f"{model.__name__}.{attribute} is required but accepts None"
            # Requests may default a required list to [] (always sent); responses must demand it.
            always_present = info.is_required() or (
                in_request and (info.default_factory is not None or info.default is not None)
            )
            assert always_present, f"{model.__name__}.{attribute} is required by the spec"
        else:
            assert allows_none and not info.is_required() and info.default is None, (
                f"{model.__name__}.{attribute} is optional in the spec: must be `X | None = None`"
            )


def test_snake_case_attributes_camel_case_wire_names() -> None:
    booking_fields = models.MeetingBooking.model_fields
    assert booking_fields["first_name"].alias == "firstName"
    assert booking_fields["likely_available_user_ids"].alias == "likelyAvailableUserIds"
    assert models.BrandingMetadata.model_fields["accent2_color"].alias == "accent2Color"
    assert models.ErrorDetail.model_fields["in_"].alias == "in"
    # CRM property bags stay snake_case on the wire.
    assert models.CalendarMeetingProperties.model_fields["hs_meeting_title"].alias in (
        None,
        "hs_meeting_title",
    )


# --------------------------------------------------------------------------------------------- examples
def example(schema: dict[str, Any], version: str, *, full: bool) -> Any:
    """A JSON value satisfying ``schema``: every property when ``full``, else only required ones."""
    name = ref_name(schema)
    if name:
        schema = schemas(version)[name]
    kind = schema.get("type")
    if kind == "object" and "properties" in schema:
        keys = schema["properties"] if full else schema.get("required", [])
        return {key: example(schema["properties"][key], version, full=full) for key in keys}
    if kind == "object":
        return {
            "1800000": example(schema.get("additionalProperties", {"type": "string"}), version, full=full)
        }
    if kind == "array":
        return [example(schema["items"], version, full=full)]
    if kind == "string":
        if "enum" in schema:
            return schema["enum"][0]
        return "2026-12-01T14:00:00Z" if schema.get("format") == "date-time" else "text"
    return {"integer": 1_800_000, "number": 1.5, "boolean": True}[kind]


@pytest.mark.parametrize(("model", "version"), MODEL_VERSION_CASES)
def test_full_spec_example_round_trips(model: type[BaseModel], version: str) -> None:
    """Every spec field parses into the model and is written back under its wire name, unchanged."""
    body = example({"$ref": f"#/x/{model.__spec_schema__}"}, version, full=True)  # type: ignore[attr-defined]
    parsed = model.model_validate(body)
    assert parsed.to_wire_dict() == body  # type: ignore[attr-defined]


@pytest.mark.parametrize(("model", "version"), MODEL_VERSION_CASES)
def test_required_fields_are_enforced(model: type[BaseModel], version: str) -> None:
    schema = schemas(version)[model.__spec_schema__]  # type: ignore[attr-defined]
    minimal = example(schema, version, full=False)
    dumped = model.model_validate(minimal).to_wire_dict()  # type: ignore[attr-defined]
    # Optional fields are left out of what is sent, required ones always present.
    assert set(dumped) == set(schema.get("required", []))
    for key in schema.get("required", []):
        without = {k: v for k, v in minimal.items() if k != key}
        try:
            parsed = model.model_validate(without)
        except ValidationError as error:
            assert error.errors()[0]["loc"][0] == key
        else:
            assert issubclass(model, RequestModel), f"{model.__name__} accepted an answer without {key}"
            assert key in parsed.to_wire_dict(), f"{model.__name__} does not send required {key}"  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------- behaviour
def test_responses_keep_fields_hubspot_adds_later() -> None:
    body = example({"$ref": "#/x/ExternalMeetingBookingResponse"}, "2026-09", full=True)
    body["brandNewField"] = {"nested": [1, 2]}
    body["formFields"][0]["alsoNew"] = "x"
    meeting = models.BookedMeeting.model_validate(body)
    assert meeting.model_extra == {"brandNewField": {"nested": [1, 2]}}
    assert meeting.to_wire_dict() == body


def test_response_enumerations_accept_new_values() -> None:
    body = example({"$ref": "#/x/ExternalLinkMetadata"}, "2026-09", full=True)
    body["type"] = "SOME_FUTURE_LINK_TYPE"
    assert models.MeetingLink.model_validate(body).type == "SOME_FUTURE_LINK_TYPE"


def test_requests_reject_unknown_fields_and_bad_enums() -> None:
    body = example({"$ref": "#/x/ExternalMeetingBooking"}, "2026-09", full=True)
    with pytest.raises(ValidationError, match="firstname"):
        models.MeetingBooking.model_validate({**body, "firstname": "typo"})
    reminder = {"numberOfTimeUnits": 1, "timeUnit": "FORTNIGHTS"}
    with pytest.raises(ValidationError, match="timeUnit"):
        models.Reminder.model_validate(reminder)


def booking(**overrides: Any) -> models.MeetingBooking:
    values: dict[str, Any] = {
        "slug": "sales-team/round-robin",
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "start_time": datetime(2026, 12, 1, 15, 0, tzinfo=timezone(timedelta(hours=1))),
        "duration": 1_800_000,
    }
    return models.MeetingBooking(**{**values, **overrides})


@pytest.mark.parametrize(
    ("version", "wire_duration"), [("v3", 1_800_000), ("2026-03", 1_800_000), ("2026-09", 1_800_000)]
)
def test_booking_to_wire_per_version(version: str, wire_duration: int) -> None:
    body = booking(timezone="Europe/Berlin").to_wire(version)
    assert body == {
        "slug": "sales-team/round-robin",
        "email": "ada@example.com",
        "firstName": "Ada",
        "lastName": "Lovelace",
        "startTime": "2026-12-01T14:00:00Z",
        "duration": wire_duration,
        "timezone": "Europe/Berlin",
        # Required by HubSpot: sent even when empty.
        "formFields": [],
        "legalConsentResponses": [],
        "likelyAvailableUserIds": [],
    }
    assert body == booking(timezone="Europe/Berlin").to_wire(get_api_version(version))


def test_booking_to_wire_default_version_and_nested_fields() -> None:
    body = booking(
        start_time=datetime(2026, 12, 1, 14, 0, 0, 250_000, tzinfo=timezone.utc),
        form_fields=[models.BookingFormField(name="company", value="Analytical Engines")],
        legal_consent_responses=[models.LegalConsentResponse(communication_type_id="42", consented=True)],
        likely_available_user_ids=["7"],
    ).to_wire()
    assert body["startTime"] == "2026-12-01T14:00:00.250Z"
    assert body["duration"] == 1_800_000  # default version 2026-09: milliseconds
    assert body["formFields"] == [{"name": "company", "value": "Analytical Engines"}]
    assert body["legalConsentResponses"] == [{"communicationTypeId": "42", "consented": True}]
    assert body["likelyAvailableUserIds"] == ["7"]


def test_booking_rejects_naive_times_zero_durations_and_partial_minutes() -> None:
    with pytest.raises(ValidationError, match="start_time"):
        booking(start_time=datetime(2026, 12, 1, 14, 0))
    with pytest.raises(ValidationError, match="duration"):
        booking(duration=0)
    assert booking(duration=90_000).to_wire("2026-03")["duration"] == 90_000  # milliseconds, as v3
    assert booking(duration=90_000).to_wire("v3")["duration"] == 90_000


@pytest.mark.parametrize(
    ("version", "wire", "ms"), [("v3", 1_800_000, 1_800_000), ("2026-03", 1_800_000, 1_800_000)]
)
def test_booked_meeting_duration_normalised_to_milliseconds(version: str, wire: int, ms: int) -> None:
    body = example({"$ref": "#/x/ExternalMeetingBookingResponse"}, version, full=True)
    body["duration"] = wire
    normalised = models.BookedMeeting.normalise_wire(body, version)
    assert normalised["duration"] == ms and body["duration"] == wire  # the input is not mutated
    assert models.BookedMeeting.model_validate(normalised).duration == ms


# --------------------------------------------------------------------------------------------- specs and cost
def test_package_specs_equal_shared_copies() -> None:
    """Every spec of ``../shared/hubspot-openapi`` is vendored byte for byte; a vendored file it lacks is
    an excerpt of another HubSpot spec, and SOURCE.md names where it was cut from."""
    if not SHARED_SPECS_DIR.is_dir():
        pytest.skip(f"{SHARED_SPECS_DIR} does not exist here")
    shared = sorted(p.name for p in SHARED_SPECS_DIR.glob("*.json"))
    vendored = sorted(p.name for p in SPECS_DIR.glob("*.json"))
    assert set(shared) <= set(vendored), f"not vendored: {sorted(set(shared) - set(vendored))}"
    for name in shared:
        assert (SPECS_DIR / name).read_bytes() == (SHARED_SPECS_DIR / name).read_bytes(), name
    sources = (SPECS_DIR / "SOURCE.md").read_text()
    for name in sorted(set(vendored) - set(shared)):
        excerpt = json.loads((SPECS_DIR / name).read_text())["info"].get("x-excerpt", "")
        assert "PublicApiSpecs/" in excerpt and f"`{name}`" in sources, name


def test_hook_and_errors_import_without_building_models() -> None:
    """DAG files import the hook and errors at parse time; the ~40 models must not be built then."""
    code = (
        "import sys\n"
        "import hubspot_scheduler_provider.errors, hubspot_scheduler_provider.hooks.scheduler\n"
        "print(sorted(m for m in sys.modules if m.startswith('hubspot_scheduler_provider.models')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"
    errors_source = (Path(models.__file__).parent.parent / "errors.py").read_text()
    assert "pydantic" not in errors_source.replace("no pydantic", "")


# --- typed answers: a spec-breaking boolean is a HubSpotResponseError, never a truth test -------------


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    """A loopback server answering each request with the next queued bytes (see ``tests/hooks``)."""
    server = ScriptedServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def _booking() -> Any:
    from hubspot_scheduler_provider.booking_input import build_booking

    return build_booking(BOOKER)


def _answering(server: ScriptedServer, monkeypatch: pytest.MonkeyPatch, body: dict[str, Any]) -> Any:
    from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook

    set_connection(monkeypatch, host=server.url, password="scripted-token")
    server.queue(Answer(body=json.dumps(body).encode(), headers={"X-HubSpot-Correlation-Id": "corr-typed"}))
    return HubSpotSchedulerHook(max_retries=0)


@pytest.mark.parametrize("offline", ["false", "true", 0, 1, None])
def test_a_booking_answer_with_a_non_boolean_is_offline_is_a_response_error(
    scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch, offline: Any
) -> None:
    from hubspot_scheduler_provider.errors import HubSpotResponseError

    hook = _answering(scripted, monkeypatch, {**BOOKING_ANSWER, "isOffline": offline})

    with pytest.raises(HubSpotResponseError) as raised:
        hook.book_meeting(_booking())

    assert raised.value.correlation_id == "corr-typed"
    assert raised.value.outcome_unknown  # HTTP 200: probably booked, but the answer cannot be trusted
    assert "isOffline" in str(raised.value)


@pytest.mark.parametrize("offline", [True, False])
def test_booking_result_exposes_is_offline_typed(
    scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch, offline: bool
) -> None:
    hook = _answering(scripted, monkeypatch, {**BOOKING_ANSWER, "isOffline": offline})

    assert hook.book_meeting(_booking()).is_offline is offline


def test_a_page_answer_with_a_text_boolean_is_a_response_error_with_the_correlation_id(
    hubspot_sandbox: Any, scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hubspot_scheduler_provider.errors import HubSpotResponseError
    from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook

    # A real page answer from the sandbox, with one boolean turned into the text HubSpot must not send.
    info = (
        HubSpotSchedulerHook().get_booking_info("alice-smith", "UTC").model_dump(mode="json", by_alias=True)
    )
    hook = _answering(scripted, monkeypatch, {**info, "isOffline": "false"})

    with pytest.raises(HubSpotResponseError) as raised:
        hook.get_booking_info("alice-smith", "UTC")

    assert raised.value.correlation_id == "corr-typed"
    assert "isOffline" in str(raised.value)
