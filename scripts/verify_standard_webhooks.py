#!/usr/bin/env python3
"""Checks a real Palisade webhook delivery with the official Standard Webhooks library.

`cargo test --test api outbound_delivery::a_change_is_delivered` with
PALISADE_STANDARD_WEBHOOKS_FIXTURE=<file> writes what a local HTTPS receiver got (headers and
body) and the endpoint's secret; this script verifies it with `standardwebhooks` (PyPI), code
nobody at Palisade wrote. Exit status 0 when the signature verifies, 1 otherwise.

    python3 scripts/verify_standard_webhooks.py <fixture.json>
"""
import json
import sys
from datetime import datetime, timezone

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def main(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        fixture = json.load(f)
    secret, headers, body = fixture["secret"], fixture["headers"], fixture["body"]
    wh = Webhook(secret)
    # The library's verify() also rejects timestamps more than 5 minutes from now; the test
    # stamps deliveries with its clock, which starts at the real time, so this holds when run
    # right after the test.
    try:
        payload = wh.verify(body, headers)
    except WebhookVerificationError as e:
        print(f"standardwebhooks refused the delivery: {e}", file=sys.stderr)
        return 1
    # And the signature the library computes itself is the one we sent.
    ts = datetime.fromtimestamp(int(headers["webhook-timestamp"]), tz=timezone.utc)
    expected = wh.sign(headers["webhook-id"], ts, body)
    if expected not in headers["webhook-signature"].split(" "):
        print(f"signature mismatch: library {expected}, ours {headers['webhook-signature']}",
              file=sys.stderr)
        return 1
    print(f"standardwebhooks verified webhook-id {headers['webhook-id']}: {payload['type']}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
