"""Fails unless Schemathesis's stateful phase followed the links of creates: reads the NDJSON
report of scripts/schemathesis.sh's main run and counts the transitions it applied from a
create's 201 (its Location header) to a GET, a PATCH and a DELETE of the created item.

    python3 scripts/schemathesis_stateful.py report.ndjson
"""

import json
import sys
from collections import Counter


def main(path: str) -> int:
    scenarios = 0
    followed = Counter()
    for line in open(path, encoding="utf-8"):
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if not finished or finished.get("phase") != "stateful":
            continue
        scenarios += 1
        for case in finished.get("recorder", {}).get("cases", {}).values():
            transition = case.get("transition")
            if not transition or not case.get("is_transition_applied"):
                continue
            # "POST /v1/reports -> [201] X-Inferred-Link-1 -> DELETE /v1/reports/{id}"
            source, status, *_, target = transition["id"].split(" -> ")
            if source.startswith("POST ") and status == "[201]":
                followed[target.split(" ", 1)[0]] += 1
    print(
        f"stateful phase: {scenarios} scenarios; links followed from a create's 201: "
        + ", ".join(f"{m} {followed[m]}" for m in ("GET", "PATCH", "DELETE"))
    )
    missing = [m for m in ("GET", "PATCH", "DELETE") if followed[m] == 0]
    if scenarios == 0 or missing:
        print(
            "schemathesis_stateful.py: the stateful phase ran no scenario or followed no link "
            f"from a create to {', '.join(missing) or 'anything'}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
