"""Schemathesis hooks of scripts/schemathesis.sh (loaded through SCHEMATHESIS_HOOKS).

One hook, `filter_failure`, drops one kind of failure only: ST202 "schema-valid request
rejected" (the positive_data_acceptance check) when the refusal is for a rule that depends on
state or on several fields at once, which no JSON Schema of the request can state, or when the
request was not schema-valid after all (two Schemathesis quirks, below). Each rule below names
the request it applies to and the exact error the server must have answered; any other refusal,
any other check, any 5xx still fails the run. docs/testing.md lists them with the same reasons.
"""

from __future__ import annotations

import ast
import json
import threading

import schemathesis

# CPython 3.11 and early 3.12 (gh-106905) count the AST validator's recursion depth in one
# counter for every thread, so two threads parsing at once (Hypothesis describes a filter's
# lambda by parsing its source, in each of `--workers 2`) can fail with "SystemError: AST
# constructor recursion depth mismatch". One parse at a time avoids it; parses are rare.
_ast_parse = ast.parse
_ast_lock = threading.Lock()


def _parse_one_at_a_time(*args, **kwargs):
    with _ast_lock:
        return _ast_parse(*args, **kwargs)


ast.parse = _parse_one_at_a_time


def _error(response) -> dict:
    try:
        body = json.loads(response.content or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _header(case, name: str):
    for key, value in (case.headers or {}).items():
        if key.lower() == name.lower():
            return value
    return None


# 422 field refusals that depend on state or on other fields: (field, code, reason prefix).
STATEFUL_FIELDS = {
    # A campaign's or a post's schedule must be in the future: the clock's, not the schema's.
    ("scheduled_at", "invalid", "must be in the future"),
    # So must an API key's expiry.
    ("expires_at", "invalid", "must be in the future"),
    # A scheduled campaign or post needs `scheduled_at` (required only with status scheduled).
    ("scheduled_at", "required", "is required to schedule"),
    ("scheduled_at", "required", "is required when status is scheduled"),
    # A campaign recipient is `to_email` / `to_number` or a `customer_id` with one on file.
    ("to_email", "required", "is required unless customer_id"),
    ("to_number", "required", "is required unless customer_id"),
    ("to_email", "required", "is required: the customer has no email"),
    ("to_number", "required", "is required: the customer has no phone"),
    # A call's `ended_at` is not before its `started_at`.
    ("ended_at", "invalid", "must not be before started_at"),
    # An Amazon Connect instance's `region` must be the one inside its `instance_arn`.
    ("region", "invalid", "must be the region of instance_arn"),
    # `from` and `to` of an analytics range: `from` not after `to`, at most 366 days apart.
    ("from", "invalid", "the range is at most 366 days"),
    ("from", "invalid", "must not be after to"),
    # A summary's `tz` is checked against the names of the database's own time zone database
    # (pg_timezone_names, less those PostgreSQL would read as abbreviations), which the schema
    # cannot list: a made-up one is refused, as docs/api.md says.
    ("tz", "invalid", "must be a time zone name the database knows"),
    # A nested list's filter naming another parent than the path's (campaign_id, webhook_id).
    (None, "invalid", "is given by the path"),
    # A reference to a row that must exist in this organization (a customer, a menu...).
    (None, "not_found", "does not exist in this organization"),
}


def _stateful_422(error: dict) -> bool:
    fields = error.get("fields") or []
    return bool(fields) and all(
        any(
            field in (None, f.get("field"))
            and f.get("code") == code
            and str(f.get("reason", "")).startswith(reason)
            for field, code, reason in STATEFUL_FIELDS
        )
        for f in fields
    )


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:
    """Keeps every failure but the refusals of the rules above (False drops it)."""
    if failure.code != "ST202" or response is None:
        return True
    # Schemathesis 4.32.5's coverage phase, varying a header (`Idempotency-Key`...), sends a
    # body its own generator made negative (`0` for an object) in a case it marks positive
    # (`meta.components["body"].mode` is negative, `meta.generation.mode` positive): the
    # request is not schema-valid, so ST202 does not apply (its refusal is checked as a
    # negative case elsewhere).
    meta = getattr(case, "meta", None)
    if meta is not None and any(
        not component.mode.is_positive for component in meta.components.values()
    ):
        return False
    error = _error(response)
    code = error.get("error")
    # The stateful phase fills a path's id from an earlier response through an inferred link;
    # when that response's field was null it sends Python's None, spelled `None` in the path,
    # which is no UUID (the parameter's `format`): not a schema-valid request, refused 400
    # invalid_id.
    if (
        response.status_code == 400
        and code == "invalid_id"
        and any(v is None or v == "None" for v in (case.path_parameters or {}).values())
    ):
        return False
    # A cursor is an opaque token of the API, bound to its list and filters: a made-up one is
    # refused (400 invalid_cursor), as docs/api.md says.
    if response.status_code == 400 and code == "invalid_cursor" and "cursor" in (case.query or {}):
        return False
    # A sync token is sealed by the API and bound to its feed, organization and database: a made-up one
    # does not open, and answers 410 sync_token_expired (a sync from the start), as docs/api.md
    # says.
    if (
        response.status_code == 410
        and code == "sync_token_expired"
        and "since" in (case.query or {})
    ):
        return False
    # If-None-Match naming the current ETag (or `*`) answers 304 with no body, by design
    # (crates/palisade_api/src/etag.rs): the client already holds the representation.
    if response.status_code == 304 and _header(case, "If-None-Match") is not None:
        return False
    # If-Match must carry the resource's current ETag: a made-up one is 412, by design. And a
    # write whose If-None-Match is `*` (the item exists) or names its current ETag is 412 too
    # (RFC 9110 §13.1.2; crates/palisade_api/src/etag.rs).
    if (
        response.status_code == 412
        and code == "precondition_failed"
        and (_header(case, "If-Match") is not None or _header(case, "If-None-Match") is not None)
    ):
        return False
    # The same Idempotency-Key with another request is refused by design (docs/api.md); the
    # generator reuses keys across requests.
    if (
        response.status_code == 422
        and code == "idempotency_key_reused"
        and _header(case, "Idempotency-Key") is not None
    ):
        return False
    # Invitation, password-reset and email verification tokens are only ever mailed by the API:
    # a made-up one is refused (invalid_link), whatever its shape.
    if code == "invalid_link" and case.operation.path in (
        "/v1/auth/accept-invitation",
        "/v1/auth/reset-password",
        "/v1/me/confirm-email",
    ):
        return False
    # A call's or a message's `from_number` must be one of the organization's phone numbers
    # (with the capability): a reference to an existing row, like `not_found` below.
    if response.status_code == 422 and code == "from_number_not_owned":
        return False
    if response.status_code == 422 and code == "validation_failed" and _stateful_422(error):
        return False
    return True
