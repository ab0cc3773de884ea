"""Fails unless Schemathesis's stateful phase followed the links of creates: reads the NDJSON
reports of scripts/schemathesis.sh's stateful runs and counts the transitions they applied from
a create's 201 to a GET, a PATCH and a DELETE of the created item.

    python3 scripts/schemathesis_stateful.py report.ndjson...
"""

import json
import re
import sys
from collections import Counter

TRANSITION = re.compile(r"(?P<source>[A-Z]+ \S+) -> \[(?P<status>[0-9X]+)\] .+ -> (?P<target>[A-Z]+ \S+)")


def main(paths: list[str]) -> int:
    scenarios = 0
    followed = Counter()
    lines = (line for path in paths for line in open(path, encoding="utf-8"))
    for line in lines:
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
            # (schemathesis.core.errors.format_transition: source, [status] link name, target).
            match = TRANSITION.fullmatch(transition["id"])
            if match is None:
                print(f"schemathesis_stateful.py: unreadable transition {transition['id']!r}")
                return 1
            source, status, target = match.group("source", "status", "target")
            if source.startswith("POST ") and status == "201":
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
    sys.exit(main(sys.argv[1:]))
