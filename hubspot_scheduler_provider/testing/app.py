"""Request pipeline of the sandbox, independent of the socket layer. A test double, not HubSpot.

Order per request: record -> fault (before) -> route -> authenticate -> rate limit -> scopes ->
validate query and body against the spec -> handle -> validate the answer against the spec ->
fault (after). Errors at any step become HubSpot-format answers: 400 for bad input, 404 for an unknown
path or object, 405 (with ``Allow``) for a method the path does not serve (HEAD, OPTIONS and TRACE
included). A handler that raises anything else is a sandbox bug: it still answers, with a 500 in
HubSpot's format and a correlation id, and is recorded in ``internal_errors`` (tests assert it stays
empty), so a client never sees a connection closed without an answer it did not ask for.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from hubspot_scheduler_provider.testing import api_errors
from hubspot_scheduler_provider.testing.api_errors import ApiError
from hubspot_scheduler_provider.testing.endpoints import HANDLERS
from hubspot_scheduler_provider.testing.faults import (
    Delay,
    DropAfterCommit,
    DropBeforeCommit,
    Fault,
    FaultQueue,
    MalformedJson,
    SlowAfterCommit,
    Status,
)
from hubspot_scheduler_provider.testing.scheduler import Call
from hubspot_scheduler_provider.testing.spec import ERROR_SCHEMA, catalog, coerce_query

if TYPE_CHECKING:
    from collections.abc import Mapping

    from hubspot_scheduler_provider.testing.oauth import TokenAuthority
    from hubspot_scheduler_provider.testing.rate_limit import RateLimiter
    from hubspot_scheduler_provider.testing.spec import Operation
    from hubspot_scheduler_provider.testing.state import SandboxState

log = logging.getLogger(__name__)

REDACTED = "<redacted>"
#: The operation HubSpot's separate CRM search limit applies to.
CRM_SEARCH_HANDLER = "crm_meetings_search"
_SECRET_FIELDS = frozenset(
    {"client_secret", "refresh_token", "code", "code_verifier", "hapikey", "access_token"}
)


@dataclass
class RecordedRequest:
    """One request as the sandbox received it, with every credential redacted."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    correlation_id: str
    status: int | None = None
    fault: str | None = None

    @property
    def json(self) -> Any:
        return self.body


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    #: Close the connection without answering.
    drop: bool = False
    #: Seconds to wait before sending the answer.
    send_delay: float = 0.0


def _redact_mapping(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: (REDACTED if key in _SECRET_FIELDS else value) for key, value in values.items()}


def _redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    redacted = {}
    for name, value in headers.items():
        if name.lower() == "authorization":
            scheme = value.split(" ", 1)[0] if " " in value else ""
            value = f"{scheme} {REDACTED}".strip()
        redacted[name] = value
    return redacted


def _json_bytes(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode("utf-8")


class SandboxApp:
    def __init__(
        self,
        state: SandboxState,
        tokens: TokenAuthority,
        limiter: RateLimiter,
        *,
        validate_responses: bool = True,
        search_limiter: RateLimiter | None = None,
    ) -> None:
        self.state = state
        self.tokens = tokens
        self.limiter = limiter
        #: HubSpot's separate, lower limit of the CRM search endpoints (None: not enforced).
        self.search_limiter = search_limiter
        self.validate_responses = validate_responses
        self.faults = FaultQueue()
        self.requests: list[RecordedRequest] = []
        #: Answers the sandbox itself produced that break the spec (should stay empty; tests assert it).
        self.spec_violations: list[str] = []
        #: Unexpected exceptions inside request handling, answered as 500s (should stay empty).
        self.internal_errors: list[str] = []
        self._log_lock = threading.Lock()

    def handle(self, method: str, target: str, headers: Mapping[str, str], raw_body: bytes) -> Reply:
        record = RecordedRequest(method, target, {}, {}, None, correlation_id=str(uuid.uuid4()))
        try:
            try:
                split = urlsplit(target)
            except ValueError:  # e.g. an absolute target with a broken IPv6 host
                body = api_errors.validation_error("The request target is not a valid URL.")
                return self._reply(
                    400, body.body(record.correlation_id), record, {}, schema=None, operation=None
                )
            query = parse_qs(split.query, keep_blank_values=True)
            record.path = split.path
            record.query = {
                key: [REDACTED] if key in _SECRET_FIELDS else value for key, value in query.items()
            }
            record.headers = _redact_headers(headers)
            record.body = self._recordable_body(raw_body, headers.get("Content-Type", ""))
            with self._log_lock:
                self.requests.append(record)
            fault = self.faults.take(method, split.path)
            record.fault = type(fault).__name__ if fault else None
            reply = self._handle(method, split.path, query, headers, raw_body, record, fault)
        except Exception as error:  # a sandbox bug: answer anyway, loudly
            log.exception("HubSpot sandbox failed on %s %s", method, record.path[:200])
            self.internal_errors.append(f"{method} {record.path[:200]}: {type(error).__name__}: {error}")
            body = ApiError(500, "INTERNAL_ERROR", "internal error in the HubSpot sandbox")
            reply = self._reply(
                500, body.body(record.correlation_id), record, {}, schema=None, operation=None
            )
        record.status = None if reply.drop else reply.status
        return reply

    @staticmethod
    def _recordable_body(raw_body: bytes, content_type: str) -> Any:
        if not raw_body:
            return None
        text = raw_body.decode("utf-8", errors="replace")
        if "x-www-form-urlencoded" in content_type:
            return _redact_mapping({key: values[0] for key, values in parse_qs(text).items()})
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            return text

    def _handle(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: Mapping[str, str],
        raw_body: bytes,
        record: RecordedRequest,
        fault: Fault | None,
    ) -> Reply:
        if isinstance(fault, Delay):
            time.sleep(fault.seconds)
        elif isinstance(fault, DropBeforeCommit):
            return Reply(0, b"", drop=True)
        elif isinstance(fault, Status):
            return self._status_fault(fault, record.correlation_id)
        rate_headers: dict[str, str] = {}
        operation: Operation | None = None
        try:
            routed = catalog().route(method, path)
            if routed is None:
                allowed = catalog().methods_of(path)
                if allowed:
                    rate_headers = {"Allow": ", ".join(allowed)}
                raise self._unroutable(method, path, allowed)
            operation, path_params = routed
            if operation.scopes:
                granted = self._authenticate(headers)
                for limiter in self._limiters_of(operation):
                    decision = limiter.acquire()
                    rate_headers = rate_headers or decision.headers
                    if decision.refused_by is not None:
                        body = api_errors.rate_limit_body(
                            record.correlation_id, decision.refused_by, limiter.limit
                        )
                        return self._reply(429, body, record, rate_headers, schema=None, operation=operation)
                if not granted.intersection(operation.scopes):
                    raise api_errors.missing_scopes(operation.scopes)
            call = self._validated_call(operation, path_params, query, headers, raw_body)
            payload = self._dispatch(operation, call)
            status = 200
        except ApiError as error:
            rate_headers = {**self.limiter.headers(), **rate_headers}
            spec_schema = ERROR_SCHEMA if operation is not None else None
            return self._reply(
                error.status,
                error.body(record.correlation_id),
                record,
                rate_headers,
                schema=spec_schema,
                operation=operation,
            )
        reply = self._reply(
            status, payload, record, rate_headers, schema=operation.response_schema, operation=operation
        )
        return self._after_commit(reply, fault)

    def _dispatch(self, operation: Operation, call: Call) -> dict[str, Any]:
        if operation.handler == "oauth_token":
            return self.tokens.exchange(call.body)
        return HANDLERS[operation.handler](call)

    @staticmethod
    def _unroutable(method: str, path: str, allowed: list[str]) -> ApiError:
        shown_method, shown_path = method[:16], path[:200]
        if allowed:
            return ApiError(
                405,
                "METHOD_NOT_ALLOWED",
                f"Method {shown_method} is not supported on {shown_path}; use {', '.join(allowed)}.",
            )
        return api_errors.not_found(f"No route for {shown_method} {shown_path} in the HubSpot sandbox.")

    def _authenticate(self, headers: Mapping[str, str]) -> frozenset[str]:
        authorization = headers.get("Authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise api_errors.missing_credentials()
        return self.tokens.authenticate(token.strip())

    def _validated_call(
        self,
        operation: Operation,
        path_params: dict[str, str],
        query: dict[str, list[str]],
        headers: Mapping[str, str],
        raw_body: bytes,
    ) -> Call:
        values, problems = coerce_query(operation, query)
        body: Any = None
        if operation.request_schema is not None:
            body = self._parse_body(operation, raw_body, headers.get("Content-Type", ""))
            problems += operation.spec.schema_errors(operation.request_schema, body)
        if problems:
            raise api_errors.validation_error(
                "Invalid input: " + "; ".join(problem["message"] for problem in problems), errors=problems
            )
        return Call(self.state, operation, path_params, values, body)

    @staticmethod
    def _parse_body(operation: Operation, raw_body: bytes, content_type: str) -> Any:
        text = raw_body.decode("utf-8", errors="replace")
        if operation.request_content_type == "application/x-www-form-urlencoded":
            return {key: values[0] for key, values in parse_qs(text, keep_blank_values=True).items()}
        if not text.strip():
            raise api_errors.validation_error("Invalid input JSON: the request body is empty.")
        try:
            return json.loads(text)
        except RecursionError:
            raise api_errors.validation_error("Invalid input JSON: nested too deeply.") from None
        except ValueError as error:
            raise api_errors.validation_error(
                f"Invalid input JSON on line {error.lineno}, column {error.colno}: {error.msg}"  # type: ignore[attr-defined]
            ) from None

    def _reply(
        self,
        status: int,
        payload: dict[str, Any],
        record: RecordedRequest,
        rate_headers: dict[str, str],
        *,
        schema: dict[str, Any] | None,
        operation: Operation | None,
    ) -> Reply:
        if self.validate_responses and schema is not None and operation is not None:
            problems = operation.spec.schema_errors(schema, payload)
            if problems:
                violation = f"{record.method} {record.path} -> {status}: {problems}"
                self.spec_violations.append(violation)
                log.error("HubSpot sandbox answer breaks the spec: %s", violation)
                status, payload = (
                    500,
                    ApiError(
                        500, "INTERNAL_ERROR", f"sandbox answer broke the spec: {problems[0]['message']}"
                    ).body(record.correlation_id),
                )
        headers = {
            "Content-Type": "application/json;charset=utf-8",
            "X-HubSpot-Correlation-Id": record.correlation_id,
            **rate_headers,
        }
        return Reply(status, _json_bytes(payload), headers)

    def _limiters_of(self, operation: Operation) -> list[RateLimiter]:
        """The general limit counts every request; a CRM search also counts against the search limit."""
        if self.search_limiter is not None and operation.handler == CRM_SEARCH_HANDLER:
            return [self.limiter, self.search_limiter]
        return [self.limiter]

    @staticmethod
    def _after_commit(reply: Reply, fault: Fault | None) -> Reply:
        if isinstance(fault, DropAfterCommit):
            reply.drop = True
        elif isinstance(fault, SlowAfterCommit):
            reply.send_delay = fault.seconds
        elif isinstance(fault, MalformedJson):
            reply.body = reply.body[: max(len(reply.body) // 2, 1)] + b"<!-- truncated"
        return reply

    def _status_fault(self, fault: Status, correlation_id: str) -> Reply:
        body: Any = fault.body
        if body is None:
            if fault.code == 429:
                body = api_errors.rate_limit_body(correlation_id, "TEN_SECONDLY_ROLLING", self.limiter.limit)
            else:
                body = ApiError(
                    fault.code,
                    "INTERNAL_ERROR" if fault.code >= 500 else "VALIDATION_ERROR",
                    f"Injected HTTP {fault.code} (sandbox fault).",
                ).body(correlation_id)
        raw = (
            body if isinstance(body, bytes) else body.encode() if isinstance(body, str) else _json_bytes(body)
        )
        headers = {
            "Content-Type": "application/json;charset=utf-8",
            "X-HubSpot-Correlation-Id": correlation_id,
            **self.limiter.headers(),
            **(fault.headers or {}),
        }
        return Reply(fault.code, raw, headers)
