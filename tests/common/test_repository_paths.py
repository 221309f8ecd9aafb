"""A fresh clone needs nothing beside it: no tracked file names a folder outside the repository or a
path of a development machine. The one machine path allowed is a documented default: Debian's Postgres
15 folder on a line about PG_BIN (its override), and Debian's Chromium binary."""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Written so that this file does not match itself.
MACHINE_PATH = re.compile(
    r"\.\./shared\b"  # the project's shared folder beside a checkout
    r"|(?<![\w.~-])/(?:work|root|home|Users|mnt)/"  # home and work folders of a development machine
    r"|/usr/lib/postgresql[/]"  # the machine's Postgres
)
PG15_DEFAULT = "/usr/lib/postgresql" + "/15/bin"


def offending(line: str) -> list[str]:
    """The machine paths in `line` that are not documented defaults."""
    if PG15_DEFAULT in line and "PG_BIN" in line:
        line = line.replace(PG15_DEFAULT, "")
    return [m.group(0) for m in MACHINE_PATH.finditer(line)]


def tracked_files() -> list[str]:
    done = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    return [name for name in done.stdout.decode().split("\0") if name]


@pytest.mark.parametrize(
    "line",
    [
        "PAGILA = ROOT.parent / '../" + "shared/fixtures/pagila'",
        "see /" + "work/shared/NEON.md",
        "cd /" + "root/project && make test",
        'PG15 = Path("' + PG15_DEFAULT + '")',
        "export PATH=/" + "home/dev/.local/bin:$PATH",
    ],
)
def test_machine_paths_are_recognised(line):
    assert offending(line)


@pytest.mark.parametrize(
    "line",
    [
        'PG_BIN="${PG_BIN:-' + PG15_DEFAULT + '}"',
        'CHROMIUM = "/usr/bin/chromium"',
        "# a worktree under /root is not reachable for the postgres user",
        "docs/neon.md describes the stand-in",
    ],
)
def test_documented_defaults_are_allowed(line):
    assert offending(line) == []


def test_no_tracked_file_names_a_machine_path():
    files = tracked_files()
    assert "Makefile" in files and "tests/common/test_repository_paths.py" in files
    found = []
    for name in files:
        path = ROOT / name
        if not path.is_file():
            continue  # deleted in the work tree but still in the index
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary (the gzipped Pagila data)
        for number, line in enumerate(data.decode(errors="replace").splitlines(), 1):
            found += [f"{name}:{number}: {hit}" for hit in offending(line)]
    assert found == [], "tracked files name paths outside the repository:\n" + "\n".join(found)
