"""The PostgreSQL example (``examples/postgres_service``) passes under ``-n 2``.

It starts a real PostgreSQL server, so it needs the system's binaries (Debian:
``apt-get install postgresql``); only where there are none is it skipped. The
service refuses a test's hold on ``orders`` or ``stock`` that breaks the rules
(an exclusive holder beside another), failing that test: every test passing is
the evidence that the declarations were kept; the summary that tests overlapped.

README: "Set up, run the example, run the tests"; docs/how-to/postgres-and-remote.md.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "postgres_service"


def _postgres_missing() -> bool:
    found = [shutil.which(name) for name in ("initdb", "pg_ctl")]
    return None in found and not glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")


@pytest.mark.skipif(
    _postgres_missing(),
    reason="no PostgreSQL binaries (initdb, pg_ctl on PATH or in /usr/lib/postgresql/*/bin):"
    " apt-get install postgresql",
)
def test_the_postgres_example_passes_on_two_workers_with_a_database_each(
    tmp_path: Path,
) -> None:
    junit = tmp_path / "junit.xml"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SHOP_TEST"))}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(EXAMPLE), "-n", "2", "--dist=asyncgroup",
         "-p", "no:cacheprovider", "-p", "no:randomly", f"--junitxml={junit}"],
        capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-5000:]
    cases = list(ET.parse(junit).getroot().iter("testcase"))
    assert len(cases) == 130
    assert not [c for c in cases if len(c)], "every test passed, no 409 from the service"
    # Both workers ran tests, several at once each (per-worker keys: no group).
    workers = re.findall(r"^  (gw\d): (\d+) tests?, peak (\d+) in flight", done.stdout, re.M)
    assert {name for name, _, _ in workers} == {"gw0", "gw1"}, done.stdout
    assert all(int(peak) > 1 for _, _, peak in workers)
    assert "0 groups sharing keys" in done.stdout
