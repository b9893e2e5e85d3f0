"""The dependency audit never reports a clean result for packages it could not check, and CI runs
it whether or not the tests passed while the tests' exit code decides."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

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






