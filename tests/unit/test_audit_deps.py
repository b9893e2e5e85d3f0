"""The dependency audit never reports a clean result for packages it could not check, and CI runs
it whether or not the tests passed while the tests' exit code decides."""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("audit_deps", ROOT / "scripts" / "audit_deps.py")
audit_deps = importlib.util.module_from_spec(_spec)
sys.modules["audit_deps"] = audit_deps  # dataclasses look their module up while the class is built
_spec.loader.exec_module(audit_deps)

PINS = {"aiohttp": "3.14.5", "jinja2": "3.1.6", "pyyaml": "6.0.3"}
SKIP = "Dependency not found on PyPI and could not be audited: {} ({})"


def _report(checked: dict[str, list[dict]], skipped: list[str] = ()) -> dict:
    deps = [{"name": n, "version": PINS[n], "vulns": v} for n, v in checked.items()]
    deps += [{"name": n, "skip_reason": SKIP.format(n, PINS[n])} for n in skipped]
    return {"dependencies": deps, "fixes": []}


def _verdict(*reports: tuple[str, dict], errors: dict[str, str] | None = None) -> tuple[int, str]:
    audit = audit_deps.Audit(dict(PINS))
    for service, report in reports:
        audit.add(service, report)
    audit.service_errors.update(errors or {})
    code, lines = audit_deps.verdict(audit)
    return code, "\n".join(lines)


def test_nothing_checked_is_incomplete_never_clean() -> None:
    code, out = _verdict(("pypi", _report({}, list(PINS))), errors={"osv": "Failed to resolve 'api.osv.dev'"})
    assert code == audit_deps.EXIT_INCOMPLETE
    assert "AUDIT INCOMPLETE: 3 of 3 packages not checked" in out and "api.osv.dev" in out
    assert "No known vulnerabilities" not in out and "AUDIT OK" not in out


def test_a_package_checked_by_either_service_counts_once() -> None:
    code, out = _verdict(("pypi", _report({"aiohttp": []}, ["jinja2", "pyyaml"])),
                         ("osv", _report({"jinja2": []}, ["pyyaml"])))
    assert code == audit_deps.EXIT_INCOMPLETE and "AUDIT INCOMPLETE: 1 of 3 packages not checked" in out
    assert "2 checked via osv, pypi" in out


def test_clean_only_when_every_pinned_package_was_checked() -> None:
    code, out = _verdict(("pypi", _report({n: [] for n in PINS})))
    assert code == audit_deps.EXIT_OK and out.splitlines()[-1].startswith("AUDIT OK: all 3 pinned packages checked")


def test_findings_fail_even_when_the_audit_is_incomplete() -> None:
    vuln = {"id": "GHSA-xxxx", "fix_versions": ["3.15.0"], "aliases": [], "description": ""}
    code, out = _verdict(("pypi", _report({"aiohttp": [vuln]}, ["jinja2", "pyyaml"])))
    assert code == audit_deps.EXIT_FOUND
    assert "aiohttp 3.14.5: GHSA-xxxx (fixed in: 3.15.0)" in out and "AUDIT FOUND 1 known vulnerabilities" in out
    assert "AUDIT INCOMPLETE: 2 of 3" in out


def test_read_pins_ignores_comments_markers_and_options(tmp_path: Path) -> None:
    req = tmp_path / "c.txt"
    req.write_text("# pinned\n--find-links /opt/wheels\nPyYAML==6.0.3  # yaml\nzope.interface==7.0 ; python_version>'3'\n"
                   "torch==2.13.0+cpu\nuvicorn[standard]==0.30\n", encoding="utf-8")
    assert audit_deps.read_pins(req) == {"pyyaml": "6.0.3", "zope-interface": "7.0", "torch": "2.13.0+cpu",
                                         "uvicorn": "0.30"}


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
