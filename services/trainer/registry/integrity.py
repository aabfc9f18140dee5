"""What ties an index row to its artifact: the cross-checks run before anything trusts the row.

The index is the authority on status and the latest eval, and a one-file hand edit of it (an eval's
pass@1 typed up, `"status": "active"` typed in) must not promote or serve anything. Every writer
changes the manifest before the index, inside the same lock, and the manifest only grows (every eval
with its full harness report, the promotion record), so whatever the index claims, the manifest
already holds:
- the row's eval is one of the manifest's evals, and that eval is what its stored report says;
- an active row's manifest is active too and holds the promotion record of that same eval.
A crash between the two writes leaves the manifest ahead of the index, which these checks accept.
Someone who rewrites both files consistently (record, report, index) is not stopped: the registry is a
directory, and whoever can write it is trusted; these checks catch damage and single-file edits.
"""

from __future__ import annotations

from typing import Any

from .errors import ArtifactCorruptError, RegistryError
from .evals import eval_record_from_report


def _stripped(ev: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in ev.items() if k != "report"}


def _from_report(name: str, ev: dict[str, Any]) -> dict[str, Any]:
    """The record the manifest's eval `ev` would have if its stored report were recorded again."""
    try:
        record = eval_record_from_report(
            ev["report"], base_model_sha256=str(ev["base_model_sha256"]), measured_at=str(ev["measured_at"])
        )
    except (KeyError, TypeError, ValueError, RegistryError) as exc:
        raise ArtifactCorruptError(f"artifact {name!r}: an eval in its manifest has no valid report ({exc})") from None
    return record.to_dict()


def check_consistent(name: str, manifest: dict[str, Any], row: dict[str, Any]) -> None:
    """ArtifactCorruptError unless the manifest backs every claim of the index row (see the module doc)."""
    if manifest.get("name") != name:
        raise ArtifactCorruptError(f"artifact {name!r}: its manifest names {manifest.get('name')!r}")
    for key in ("adapter_sha256", "base_model_sha256"):
        if manifest.get(key) != row.get(key):
            raise ArtifactCorruptError(f"artifact {name!r}: manifest and index disagree on {key}")
    claimed = row.get("eval")
    if claimed is not None:
        evals = manifest.get("evals")
        backed = [
            ev for ev in (evals if isinstance(evals, list) else []) if isinstance(ev, dict) and _stripped(ev) == claimed
        ]
        if not backed:
            raise ArtifactCorruptError(
                f"artifact {name!r}: the index's eval of it is not among the evals its manifest recorded "
                "(edited by hand?)"
            )
        if _from_report(name, backed[-1]) != claimed:
            raise ArtifactCorruptError(
                f"artifact {name!r}: its recorded eval does not match the harness report stored with it "
                "(edited by hand?)"
            )
    if row.get("status") == "active":
        promotion = manifest.get("promotion")
        if manifest.get("status") != "active" or not isinstance(promotion, dict) or promotion.get("eval") != claimed:
            raise ArtifactCorruptError(
                f"artifact {name!r}: the index says active, but its manifest holds no promotion of its eval "
                "(edited by hand?)"
            )
