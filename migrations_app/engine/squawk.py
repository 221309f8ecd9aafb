"""Running the pinned squawk-cli (2.70.0) on a migration script and reading its JSON report."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

# Rule names of squawk 2.70.0 (read from the binary: `squawk -e <name>` refuses any other name).
KNOWN_RULES = frozenset(
    """
    adding-field-with-default adding-foreign-key-constraint adding-not-nullable-field adding-required-field
    adding-serial-primary-key-field ban-add-column ban-add-composite-attribute ban-add-enum-value
    ban-alter-database-options ban-alter-domain-with-add-constraint ban-alter-extension
    ban-alter-function-options ban-alter-generated-expression ban-alter-identity ban-alter-policy-condition
    ban-alter-policy-roles ban-alter-role-options ban-alter-row-level-security ban-alter-sequence-values
    ban-alter-system-options ban-alter-view-options ban-char-field ban-concurrent-index-creation-in-transaction
    ban-create-domain-with-constraint ban-create-policy ban-detach-inheritance ban-disable-trigger
    ban-drop-column ban-drop-constraint ban-drop-database ban-drop-domain ban-drop-extension ban-drop-function
    ban-drop-generated-expression ban-drop-index ban-drop-not-null ban-drop-policy ban-drop-schema
    ban-drop-sequence ban-drop-table ban-drop-type ban-drop-view ban-new-write-restriction
    ban-replace-view-function ban-replica-identity ban-revoke ban-set-default ban-set-schema
    ban-truncate-cascade ban-uncommitted-transaction changing-column-type constraint-missing-not-valid
    disallowed-unique-constraint identifier-too-long prefer-bigint-over-int prefer-bigint-over-smallint
    prefer-identity prefer-repack prefer-robust-stmts prefer-text-field prefer-timestamp-tz renaming-column
    renaming-object renaming-table require-concurrent-index-creation require-concurrent-index-deletion
    require-concurrent-partition-detach require-concurrent-reindex require-enum-value-ordering
    require-lock-timeout require-statement-timeout require-table-schema require-timeout-settings
    transaction-nesting
    """.split()
)
TIMEOUT_SECONDS = 60


class SquawkError(RuntimeError):
    """squawk could not run or answered something other than its JSON report."""


class SquawkFinding(NamedTuple):  # a tuple: thousands are built per long script
    rule: str
    level: str
    message: str
    help: str | None
    line: int  # 0-based, as squawk reports
    column: int  # 0-based, in UTF-8 bytes of the line
    line_end: int
    column_end: int


def squawk_binary() -> str:
    """The squawk installed with this Python (the pinned one) first, then whatever PATH has."""
    beside = Path(sys.executable).parent / "squawk"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("squawk")
    if not found:
        raise SquawkError("squawk is not installed (pip package squawk-cli).")
    return found


def squawk_command(path: str, *, pg_major: int, excluded: frozenset[str] = frozenset()) -> list[str]:
    command = [squawk_binary(), "--reporter", "json", "--pg-version", f"{int(pg_major)}.0"]
    if excluded:
        command += ["--exclude", ",".join(sorted(excluded))]
    return command + [path]


class SquawkRun:
    """squawk started on a temporary copy of the script; `result()` waits for its findings.

    Starting it first lets the caller parse the script while squawk works.
    """

    def __init__(self, sql: str, *, pg_major: int, excluded: frozenset[str] = frozenset()):
        unknown = excluded - KNOWN_RULES
        if unknown:
            raise ValueError(f"Unknown squawk rule(s): {', '.join(sorted(unknown))}")
        self._dir = tempfile.TemporaryDirectory(prefix="squawk-")
        path = Path(self._dir.name) / "migration.sql"
        path.write_text(sql, encoding="utf-8")
        self._proc = subprocess.Popen(
            squawk_command(str(path), pg_major=pg_major, excluded=excluded),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )

    def result(self) -> list[SquawkFinding]:
        try:
            out, err = self._proc.communicate(timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.communicate()
            raise SquawkError(f"squawk did not finish within {TIMEOUT_SECONDS} s.") from None
        finally:
            self._dir.cleanup()
        return parse_report(out, err, self._proc.returncode)


def parse_report(out: str, err: str, returncode: int) -> list[SquawkFinding]:
    try:
        report = json.loads(out) if out.strip() else None
    except json.JSONDecodeError:
        report = None
    if not isinstance(report, list):
        detail = (err or out).strip().splitlines()[:1] or [f"exit status {returncode}"]
        raise SquawkError(f"squawk failed: {detail[0]}")
    try:  # squawk 2.70.0 writes every field: read them all at once (a tenth of the cost of eight get()s)
        return [_new_finding(SquawkFinding, _ALL_FIELDS(item)) for item in report]
    except KeyError:  # a report leaving some field out
        return [_finding_with_defaults(item) for item in report]


_ALL_FIELDS = itemgetter("rule_name", "level", "message", "help", "line", "column", "line_end", "column_end")
_new_finding = tuple.__new__  # SquawkFinding(*fields) without the generated __new__'s argument parsing


def _finding_with_defaults(item: dict) -> SquawkFinding:
    return SquawkFinding(
        item.get("rule_name", ""),
        item.get("level", "Warning"),
        item.get("message", ""),
        item.get("help"),
        item.get("line", 0),
        item.get("column", 0),
        item.get("line_end", item.get("line", 0)),
        item.get("column_end", item.get("column", 0)),
    )
