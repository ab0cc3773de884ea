"""Schemathesis hooks of scripts/schemathesis.sh (loaded through SCHEMATHESIS_HOOKS).

One hook, `filter_failure`, drops one kind of failure only: ST202 "schema-valid request
rejected" (the positive_data_acceptance check) when the refusal is for a rule that depends on
state or on several fields at once, which no JSON Schema of the request can state. Each rule
below names the request it applies to and the exact error the server must have answered; any
other refusal, any other check, any 5xx still fails the run. docs/testing.md lists them with
the same reasons.
"""

from __future__ import annotations

import json

import schemathesis


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
    # A scheduled campaign or post needs `scheduled_at` (required only with status scheduled).
    ("scheduled_at", "required", "is required to schedule"),
    ("scheduled_at", "required", "is required when status is scheduled"),
    # A campaign recipient is `to_email` / `to_number` or a `customer_id` with one on file.
    ("to_email", "required", "is required unless customer_id"),
    ("to_number", "required", "is required unless customer_id"),
    # An Amazon Connect instance's `region` must be the one inside its `instance_arn`.
    ("region", "invalid", "must be the region of instance_arn"),
    # `from` and `to` of an analytics range: `from` not after `to`, at most 366 days apart.
    ("from", "invalid", "the range is at most 366 days"),
    ("from", "invalid", "must not be after to"),
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
    error = _error(response)
    code = error.get("error")
    # A cursor is an opaque token of the API, bound to its list and filters: a made-up one is
    # refused (400 invalid_cursor), as docs/api.md says.
    if response.status_code == 400 and code == "invalid_cursor" and "cursor" in (case.query or {}):
        return False
    # If-Match must carry the resource's current ETag: a made-up one is 412, by design.
    if (
        response.status_code == 412
        and code == "precondition_failed"
        and _header(case, "If-Match") is not None
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
    # Invitation and password-reset tokens are only ever mailed by the API: a made-up one is
    # refused (invalid_link), whatever its shape.
    if code == "invalid_link" and case.operation.path in (
        "/v1/auth/accept-invitation",
        "/v1/auth/reset-password",
    ):
        return False
    if response.status_code == 422 and code == "validation_failed" and _stateful_422(error):
        return False
    return True
