"""Drive scim2-tester (python-scim) against a running roster; keep every check result as JSON.

Usage: scim2_tester_run.py BASE_URL OUT.json   (the bearer token comes from ROSTER_CONFORMANCE_TOKEN)

scim2-tester is a library: `check_server` discovers the server itself (ServiceProviderConfig,
ResourceTypes, Schemas) through the scim2-client it is given, then runs its checks on every
resource type the server advertises. This script only builds that client, runs the checks and
writes one JSON object per check result; conformance/judge.py decides what the results mean.
"""

import json
import os
import sys
from typing import Any

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import check_server


def plain(value: Any) -> Any:
    """A JSON-safe form of the debugging data a check result carries."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [plain(v) for v in value]
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return dump(mode="json", exclude_none=True)
        except Exception:  # noqa: BLE001 - fall back to repr for anything pydantic refuses
            pass
    return repr(value)


def check_id(result: Any) -> str:
    """A stable name for a check: resource type, checker and, for per-attribute checks, the
    attribute path. This is what conformance/expectations names."""
    parts = [result.resource_type or "-", result.title or "?"]
    if isinstance(result.data, dict) and isinstance(result.data.get("urn"), str):
        parts.append(result.data["urn"])
    return "/".join(parts)


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    base_url, out = sys.argv[1], sys.argv[2]
    token = os.environ["ROSTER_CONFORMANCE_TOKEN"]
    http = httpx2.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    with http:
        results = check_server(SyncSCIMClient(http))
    records = [
        {
            "id": check_id(r),
            "status": r.status.name,
            "title": r.title,
            "resource_type": r.resource_type,
            "tags": sorted(r.tags),
            "reason": r.reason,
            "data": plain(r.data),
        }
        for r in results
    ]
    with open(out, "w", encoding="utf-8") as f:
        json.dump(records, f, indent=2)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
