"""Known vulnerabilities in the pinned dependency set (constraints.txt), reported honestly.

Why this wrapper around pip-audit: pip-audit exits 0 and prints "No known vulnerabilities found"
even when it could not look a single package up — it lists those as "skipped" in a long table
that CI used to filter away. On the build machines both of its services are out of reach:
`api.osv.dev` does not resolve, and the PyPI mirror serves `/pypi/<name>/json` but answers 404 on
the per-version `/pypi/<name>/<version>/json` that pip-audit's PyPI service asks, so every pinned
package was "not found on PyPI and could not be audited" and the log said the set was clean.

This script asks each service in turn (PyPI, then OSV) with JSON output, counts per package whether
any service actually checked it, and ends with exactly one verdict line:

* `AUDIT OK: all M pinned packages checked (...); no known vulnerabilities`, only when every
  package was checked;
* `AUDIT FOUND N known vulnerabilities in K packages`, with the table (exit 1);
* `AUDIT INCOMPLETE: N of M packages not checked (...)`, with why (exit 2).

`--no-deps --disable-pip`: constraints.txt pins the whole tree, so the exact pinned versions are
checked instead of resolving and installing them into a temporary venv.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

SERVICES = ("pypi", "osv")
EXIT_OK, EXIT_FOUND, EXIT_INCOMPLETE = 0, 1, 2


@dataclass
class Audit:
    """What the services said about the pinned set."""

    pinned: dict[str, str]                                  # name → pinned version
    checked: dict[str, set[str]] = field(default_factory=dict)  # name → services that checked it
    vulns: dict[str, dict[str, dict]] = field(default_factory=dict)  # name → vuln id → vuln
    skip_reasons: dict[str, str] = field(default_factory=dict)  # name → last reason it was not checked
    service_errors: dict[str, str] = field(default_factory=dict)  # service → why it gave no answer

    @property
    def unchecked(self) -> list[str]:
        return sorted(n for n in self.pinned if not self.checked.get(n))

    def add(self, service: str, report: dict) -> None:
        """Merge one pip-audit JSON report (`{"dependencies": [...]}`)."""
        for dep in report.get("dependencies", []):
            name = _canon(dep.get("name", ""))
            if name not in self.pinned:
                continue
            if dep.get("skip_reason"):
                self.skip_reasons[name] = dep["skip_reason"]
                continue
            self.checked.setdefault(name, set()).add(service)
            for v in dep.get("vulns", []):
                self.vulns.setdefault(name, {})[v.get("id", "?")] = v


def _canon(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(".", "-")


def read_pins(path: Path) -> dict[str, str]:
    """name → version of every `name==version` line (comments, markers and options ignored)."""
    pins: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if "==" in line and not line.startswith("-"):
            name, version = line.split("==", 1)
            pins[_canon(name.split("[", 1)[0])] = version.strip()
    return pins


def run_service(pip_audit: str, requirements: Path, service: str, timeout_s: float) -> tuple[dict | None, str]:
    """(pip-audit's JSON report or None, error text) for one service."""
    cmd = [pip_audit, "-r", str(requirements), "--no-deps", "--disable-pip", "--progress-spinner", "off",
           "-f", "json", "-s", service]
    try:
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    try:
        return json.loads(proc.stdout), ""
    except json.JSONDecodeError:
        last = next((ln for ln in reversed(proc.stderr.strip().splitlines()) if ln.strip()), f"exit {proc.returncode}")
        return None, last.strip()[:300]


def verdict(audit: Audit) -> tuple[int, list[str]]:
    """Exit code and report lines; a clean verdict only when every pinned package was checked."""
    lines: list[str] = []
    for service, error in audit.service_errors.items():
        lines.append(f"pip-audit -s {service}: no answer ({error})")
    found = {n: v for n, v in audit.vulns.items() if v}
    for name in sorted(found):
        for vid, v in sorted(found[name].items()):
            fixes = ", ".join(v.get("fix_versions") or []) or "no fix listed"
            lines.append(f"  {name} {audit.pinned[name]}: {vid} (fixed in: {fixes})")
    unchecked = audit.unchecked
    m = len(audit.pinned)
    used = sorted({s for ss in audit.checked.values() for s in ss})
    if unchecked:
        reasons = Counter(_reason_kind(audit.skip_reasons.get(n, "no service answered")) for n in unchecked)
        why = "; ".join(f"{k}: {c}" for k, c in reasons.most_common())
        sample = ", ".join(f"{n}=={audit.pinned[n]}" for n in unchecked[:5])
        lines.append(f"not checked (e.g. {sample}{', …' if len(unchecked) > 5 else ''})")
    if found:
        n_vulns = sum(len(v) for v in found.values())
        lines.append(f"AUDIT FOUND {n_vulns} known vulnerabilities in {len(found)} packages")
    if unchecked:
        lines.append(f"AUDIT INCOMPLETE: {len(unchecked)} of {m} packages not checked ({why}); "
                     f"{m - len(unchecked)} checked" + (f" via {', '.join(used)}" if used else ""))
        return (EXIT_FOUND if found else EXIT_INCOMPLETE), lines
    if found:
        return EXIT_FOUND, lines
    lines.append(f"AUDIT OK: all {m} pinned packages checked ({', '.join(used)}); no known vulnerabilities")
    return EXIT_OK, lines


def _reason_kind(reason: str) -> str:
    if "not found on PyPI" in reason:
        return "PyPI has no record of the pinned version (per-version JSON unavailable)"
    return reason[:120]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-r", "--requirements", type=Path, default=Path("constraints.txt"))
    parser.add_argument("--pip-audit", default=str(Path(sys.executable).with_name("pip-audit")))
    parser.add_argument("--services", default=",".join(SERVICES))
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per service")
    args = parser.parse_args(argv)
    audit = Audit(read_pins(args.requirements))
    for service in [s.strip() for s in args.services.split(",") if s.strip()]:
        if not audit.unchecked:
            break  # every package already checked: no need to ask another service
        report, error = run_service(args.pip_audit, args.requirements, service, args.timeout)
        if report is None:
            audit.service_errors[service] = error
        else:
            audit.add(service, report)
    code, lines = verdict(audit)
    print("\n".join(lines))
    return code


if __name__ == "__main__":
    raise SystemExit(main())
