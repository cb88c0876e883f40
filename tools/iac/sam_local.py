#!/usr/bin/env python3
"""Loads the built template the way `sam local invoke` and `sam local start-api` do,
without Docker: the SAM CLI's own stack, function and API providers (the classes those
commands build before they start a container). Checks that every function of the source
template is there, runs provided.al2023 on arm64 from a built `bootstrap` for AArch64,
and that every HttpApi route of the source template is served.

    .venv/bin/python tools/iac/sam_local.py template.yaml .aws-sam/build/template.yaml
"""

import logging
import sys
from pathlib import Path

import yaml
from samcli.lib.providers.api_provider import ApiProvider
from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

sys.path.insert(0, str(Path(__file__).resolve().parent))
from template import _TaggedLoader  # noqa: E402  (the generator's reader of !Ref and co.)

ELF_MACHINE_AARCH64 = 0xB7


def source_inventory(path):
    """The source template's functions and its HttpApi routes as (METHOD, path)."""
    doc = yaml.load(Path(path).read_text(), Loader=_TaggedLoader)
    functions, routes = set(), set()
    for logical_id, resource in doc["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        functions.add(logical_id)
        for event in (resource["Properties"].get("Events") or {}).values():
            if event.get("Type") == "HttpApi":
                routes.add((event["Properties"]["Method"].upper(), event["Properties"]["Path"]))
    return functions, routes


def is_aarch64_executable(path):
    head = path.read_bytes()[:20]
    return head[:4] == b"\x7fELF" and int.from_bytes(head[18:20], "little") == ELF_MACHINE_AARCH64


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    source, built = argv
    if not Path(built).is_file():
        sys.exit(f"{built}: no such template (run `make build` first)")
    want_functions, want_routes = source_inventory(source)

    # sam local's reminder that local authorizers are not AWS's, printed as a warning.
    logging.getLogger("samcli.lib.providers.api_collector").setLevel(logging.ERROR)
    stacks, _ = SamLocalStackProvider.get_stacks(built)
    problems = []
    functions = {f.name: f for f in SamFunctionProvider(stacks).get_all()}
    if set(functions) != want_functions:
        problems.append(f"functions: built {sorted(functions)}, source {sorted(want_functions)}")
    for name, f in sorted(functions.items()):
        bootstrap = Path(f.codeuri) / "bootstrap"
        if f.runtime != "provided.al2023" or f.architectures != ["arm64"] or f.handler != "bootstrap":
            problems.append(f"{name}: {f.runtime} {f.architectures} {f.handler}")
        if not bootstrap.is_file() or not is_aarch64_executable(bootstrap):
            problems.append(f"{name}: no AArch64 bootstrap at {bootstrap}")

    routes = {(m.upper(), r.path) for r in ApiProvider(stacks).routes for m in r.methods}
    # start-api serves an HttpApi route by its path; `{proxy+}` is a path parameter to it.
    missing = want_routes - routes
    if missing:
        problems.append(f"routes start-api would not serve: {sorted(missing)}")

    print(f"sam local: {built}: {len(functions)} functions with AArch64 bootstraps, {len(routes)} routes")
    for p in problems:
        print(f"  {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
