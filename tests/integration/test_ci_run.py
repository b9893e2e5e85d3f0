"""`.ci/run` in a subprocess: the audit runs whatever the tests did, and the tests decide (moved from tests/unit)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.unit.test_audit_deps import PINS, ROOT, _report

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("make_rc", [0, 2])
def test_ci_runs_the_audit_whatever_the_tests_did_and_the_tests_decide(tmp_path: Path, make_rc: int) -> None:
    repo, env = _fake_tree(tmp_path, make_rc=make_rc, pypi=_report({}, list(PINS)))
    proc = subprocess.run([str(repo / ".ci" / "run")], check=False, capture_output=True, text=True, env=env, timeout=60)
    assert "AUDIT INCOMPLETE: 3 of 3 packages not checked" in proc.stdout, proc.stdout + proc.stderr
    assert "No known vulnerabilities" not in proc.stdout
    assert proc.returncode == make_rc
    assert proc.stdout.strip().splitlines()[-1].endswith("in 1.00s")  # the test summary is the last word


def test_ci_fails_on_a_finding_when_the_tests_pass(tmp_path: Path) -> None:
    vuln = {"id": "PYSEC-1", "fix_versions": [], "aliases": [], "description": ""}
    repo, env = _fake_tree(tmp_path, make_rc=0, pypi=_report({n: ([vuln] if n == "jinja2" else []) for n in PINS}))
    proc = subprocess.run([str(repo / ".ci" / "run")], check=False, capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 1 and "jinja2 3.1.6: PYSEC-1" in proc.stdout


def _fake_tree(tmp_path: Path, *, make_rc: int, pypi: dict | None) -> tuple[Path, dict[str, str]]:
    """A copy of .ci/run and the audit script with a fake `make` and a fake pip-audit."""
    repo = tmp_path / "repo"
    (repo / ".ci").mkdir(parents=True)
    (repo / "scripts").mkdir()
    shutil.copy(ROOT / ".ci" / "run", repo / ".ci" / "run")
    shutil.copy(ROOT / "scripts" / "audit_deps.py", repo / "scripts" / "audit_deps.py")
    (repo / "constraints.txt").write_text("".join(f"{n}=={v}\n" for n, v in PINS.items()), encoding="utf-8")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    summary = "1 failed, 9 passed in 1.00s" if make_rc else "10 passed in 1.00s"
    (bin_dir / "make").write_text(f"#!/bin/sh\necho '{summary}'\nexit {make_rc}\n")
    venv = repo / ".venv" / "bin"
    venv.mkdir(parents=True)
    answer = json.dumps(pypi) if pypi is not None else ""
    (venv / "pip-audit").write_text(
        "#!/bin/sh\ncase \"$*\" in\n"
        f"  *'-s pypi'*) printf '%s' '{answer}'; [ -n '{answer}' ] || echo 'ConnectionError' >&2 ;;\n"
        "  *) echo \"Failed to resolve 'api.osv.dev'\" >&2; exit 1 ;;\nesac\n")
    for exe in (bin_dir / "make", venv / "pip-audit", repo / ".ci" / "run"):
        exe.chmod(0o755)
    return repo, {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
