#!/usr/bin/env python3
"""Lints and scans a template as it is deployed: cfn-lint with the serverless rules
(cfn-lint-serverless) and checkov, each finding held against tools/iac/allowlist.yaml.

Fails on a finding the allow-list does not name, on an entry without a reason, and on an
entry nothing matches any more (so the list says only what is true of the template).

    .venv-iac/bin/python tools/iac/scan.py .aws-sam/build/template.yaml [more.yaml ...]
"""

import json
import subprocess
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


def cfn_lint(template):
    """(rule, logical id, message) of every cfn-lint error and warning."""
    run = subprocess.run(
        [BIN / "cfn-lint", "--append-rules", "cfn_lint_serverless.rules", "--format", "json",
         "--non-zero-exit-code", "none", "--", str(template)],
        capture_output=True, text=True,
    )
    if run.returncode != 0:
        sys.exit(f"cfn-lint could not run:\n{run.stderr}")
    findings = []
    for match in json.loads(run.stdout or "[]"):
        path = match["Location"].get("Path") or []
        resource = path[1] if len(path) > 1 and path[0] == "Resources" else None
        findings.append((match["Rule"]["Id"], resource, match["Message"]))
    return findings


def checkov(template):
    """(rule, logical id, check name) of every failed checkov check."""
    run = subprocess.run(
        [BIN / "checkov", "--file", str(template), "--framework", "cloudformation",
         "--output", "json", "--quiet", "--compact", "--skip-download"],
        capture_output=True, text=True,
    )
    # checkov exits 1 when a check fails; anything else, or no JSON, means it did not run.
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        sys.exit(f"checkov could not run (exit {run.returncode}):\n{run.stderr[-2000:]}")
    reports = report if isinstance(report, list) else [report]
    findings = []
    for r in reports:
        if r.get("summary", {}).get("parsing_errors"):
            sys.exit(f"checkov could not parse {template}")
        for check in r.get("results", {}).get("failed_checks", []):
            resource = check["resource"].split(".", 1)[-1]
            findings.append((check["check_id"], resource, check["check_name"]))
        if r.get("summary", {}).get("resource_count", 0) == 0:
            sys.exit(f"checkov found no resource in {template}")
    return findings


def load_allowlist(path):
    entries = yaml.safe_load(path.read_text()) or []
    problems = []
    for i, e in enumerate(entries):
        if e.get("tool") not in ("cfn-lint", "checkov") or not e.get("rule"):
            problems.append(f"entry {i + 1}: needs tool (cfn-lint or checkov) and rule")
        if len(str(e.get("why") or "").split()) < 5:
            problems.append(f"entry {i + 1} ({e.get('rule')}): says too little of why the rule does not apply")
    return entries, problems


def allowed(entry, tool, rule, resource):
    return (
        entry["tool"] == tool
        and entry["rule"] == rule
        and ("resources" not in entry or resource in entry["resources"])
    )


def main(argv):
    if not argv:
        sys.exit(__doc__)
    templates = [Path(a) for a in argv]
    for template in templates:
        if not template.is_file():
            sys.exit(f"{template}: no such template (run `make build` first)")
    entries, problems = load_allowlist(HERE / "allowlist.yaml")
    used = set()
    unlisted = []
    # Each template is one way to deploy (parameters that add resources); an entry must
    # match a finding in one of them.
    for template in templates:
        counts = {}
        for tool, findings in (("cfn-lint", cfn_lint(template)), ("checkov", checkov(template))):
            counts[tool] = len(findings)
            for rule, resource, message in findings:
                hits = [i for i, e in enumerate(entries) if allowed(e, tool, rule, resource)]
                used.update(hits)
                if not hits:
                    unlisted.append(f"{template.name}: {tool} {rule} {resource or '-'}: {message}")
        print(f"iac: {template}: cfn-lint {counts['cfn-lint']} findings, checkov {counts['checkov']} failed checks")
    for i, e in enumerate(entries):
        if i not in used:
            problems.append(f"entry {i + 1} ({e.get('tool')} {e.get('rule')}) matches no finding any more: remove it")
    print(f"iac: {len(unlisted)} findings not on the allow-list")
    for line in unlisted + problems:
        print(f"  {line}", file=sys.stderr)
    return 1 if unlisted or problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
