"""Judge one suite's results on one backend against conformance/expectations and
conformance/pending-features; print the unexpected ones and one summary line.

Usage: judge.py SUITE BACKEND RESULTS.json   (run from the repository root)

Outcomes: a check passes, fails or is skipped by its suite.
- A failing check named in `expectations` is an expected failure (the check contradicts
  RFC 7643/7644 or data integrity; the file says why).
- A failing or skipped check named in `pending-features` waits for a feature another change is
  building (Groups, Bulk, .search). That list is temporary.
- Any other failure is unexpected. So is an entry of either list that this run did not see fail
  (or skip, for pending entries): the list must stay honest, so remove the entry.
Exit status: 0 when nothing was unexpected, 1 otherwise.
"""

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# scim2-tester statuses: SUCCESS/COMPLIANT/ACCEPTABLE conform; DEVIATION breaks a SHOULD;
# ERROR/CRITICAL break a MUST. "Pass completely" admits no DEVIATION either.
SCIM2_TESTER = {
    "SUCCESS": "pass",
    "COMPLIANT": "pass",
    "ACCEPTABLE": "pass",
    "DEVIATION": "fail",
    "ERROR": "fail",
    "CRITICAL": "fail",
    "SKIPPED": "skip",
}
# scim-sanity statuses (probe --json-output, strict mode): a warning counts as a failure.
SCIM_SANITY = {"pass": "pass", "fail": "fail", "error": "fail", "warn": "fail", "skip": "skip"}


def load_list(name: str, columns: int) -> list[list[str]]:
    """`a | b | c` lines; `#` starts a comment line."""
    rows = []
    for number, line in enumerate((HERE / name).read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        cells = [c.strip() for c in line.split(" | ")]
        if len(cells) != columns or not all(cells):
            sys.exit(f"conformance/{name}:{number}: expected {columns} non-empty '|'-separated cells")
        rows.append(cells)
    return rows


def checks(suite: str, path: str) -> list[dict]:
    """[{id, outcome, detail}] from a suite's own result file."""
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    if suite == "scim2-tester":
        return [
            {"id": r["id"], "outcome": SCIM2_TESTER[r["status"]], "detail": r.get("reason") or r["status"]}
            for r in raw
        ]
    if suite == "scim-sanity":
        return [
            {
                "id": r["name"],
                "outcome": SCIM_SANITY[r["status"]],
                "detail": f'{r["status"]}: {r.get("message") or ""}'.strip(),
            }
            for r in raw["results"]
        ]
    sys.exit(f"unknown suite {suite}")


def main() -> int:
    suite, backend, path = sys.argv[1:4]
    expected = {c: reason for s, c, reason in load_list("expectations", 3) if s == suite}
    pending = {c: feature for feature, s, c, _note in load_list("pending-features", 4) if s == suite}
    results = checks(suite, path)
    if not results:
        print(f"{suite} {backend}: the suite reported no check at all")
        return 1

    counts = {"passed": 0, "expected": 0, "pending": 0, "skipped": 0, "failed": 0}
    seen_expected, seen_pending, unexpected = set(), set(), []
    for r in results:
        if r["outcome"] == "pass":
            counts["passed"] += 1
            if r["id"] in expected or r["id"] in pending:
                unexpected.append(f'now passes, remove it from the list: {r["id"]}')
        elif r["id"] in pending:
            counts["pending"] += 1
            seen_pending.add(r["id"])
        elif r["outcome"] == "skip":
            counts["skipped"] += 1
        elif r["id"] in expected:
            counts["expected"] += 1
            seen_expected.add(r["id"])
        else:
            counts["failed"] += 1
            unexpected.append(f'FAILED {r["id"]}: {r["detail"]}')
    for c in sorted(set(expected) - seen_expected):
        unexpected.append(f"conformance/expectations names a check this run did not see fail: {c}")
    for c in sorted(set(pending) - seen_pending):
        unexpected.append(
            f"conformance/pending-features ({pending[c]}) names a check this run did not see "
            f"fail or skip: {c}"
        )

    for line in dict.fromkeys(unexpected):
        print(f"  {suite} {backend}: {line}")
    # Never "N passed, N failed" side by side: CI's last such line stays cargo test's totals.
    print(
        f'{suite} {backend}: {counts["passed"]} passed, {counts["expected"]} expected-failures, '
        f'{counts["pending"]} pending-features, {counts["skipped"]} skipped, '
        f'{len(dict.fromkeys(unexpected))} failed'
    )
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
