"""`make client`: generate a Python client from openapi.yaml with openapi-python-client (the
version pinned in requirements.txt), import it, and fail unless every operation has its
function and every schema the document gives a request body or a response comes out typed.

A generator drops an operation it cannot read (an unresolvable `$ref`, a path whose
parameters do not match its template) with no more than a warning, and reads a body it
half-understands (an object whose top level is anyOf/oneOf) as `Any`; neither stops it
from writing a client. So the generated code itself is read:

- each operation (method and path, as in `_get_kwargs`) has a module with `sync_detailed`,
  `sync`, `asyncio_detailed` and `asyncio`, and one module serves one operation;
- each request body with a schema is a generated class, not `Any` or a bare dict, with a
  class of its own per media type (the function picks the encoding by the body's class),
  and each `format: binary` part of a multipart body is a `File`;
- each response status with a schema is parsed into its type, not `cast(Any, ...)` or a
  bare `response.json()`.

Then the check shows it can fail: a copy of the document with an unresolvable `$ref` in
one request body, an object body whose top level is anyOf and an empty response schema
must fail it, each for its operation.
"""

from __future__ import annotations

import ast
import copy
import importlib
import inspect
import json
import re
import subprocess
import sys
import tempfile
import time
import types
import typing
from pathlib import Path

import attrs
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SPEC = ROOT / "openapi.yaml"
GENERATOR = Path(sys.executable).parent / "openapi-python-client"
PACKAGE = "user_profile_service_client"
METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")
FUNCTIONS = ("sync_detailed", "sync", "asyncio_detailed", "asyncio")


def load(path: Path) -> dict:
    return YAML(typ="safe", pure=True).load(path.read_text())


def resolve(spec: dict, node):
    """Follow `$ref`s within the document."""
    seen = 0
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"external $ref {ref}")
        node = spec
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        seen += 1
        if seen > 50:
            raise ValueError(f"$ref loop at {ref}")
    return node


def properties(spec: dict, schema) -> dict:
    """An object schema's properties, with those of its allOf members."""
    schema = resolve(spec, schema)
    found = dict(schema.get("properties") or {})
    for member in schema.get("allOf") or []:
        found.update(properties(spec, member))
    return found


def operations(spec: dict):
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def callable_paths(spec: dict) -> dict:
    """The document without the path items that only say which API Gateway route serves a
    trailing-slash path (`x-serves`, a `{proxy+}` template): they document a 404, have no
    call a client makes, and a `+` in a parameter name is no Python name to generate."""
    spec = copy.deepcopy(spec)
    spec["paths"] = {p: item for p, item in spec["paths"].items() if "x-serves" not in item}
    return spec


def template(path: str) -> str:
    """A path with its parameters unnamed: the generator renames them to Python names."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def generate(spec_path: Path, out: Path) -> tuple[bool, str]:
    run = subprocess.run(
        [
            str(GENERATOR), "generate",
            "--path", str(spec_path),
            "--output-path", str(out / PACKAGE),
            "--meta", "none",
            "--config", str(HERE / "config.yaml"),
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
    )
    return run.returncode == 0, run.stdout + run.stderr


def kwargs_target(module) -> tuple[str, str] | None:
    """The method and path `_get_kwargs` sends to, read from its source."""
    tree = ast.parse(inspect.getsource(module._get_kwargs))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Dict):
            continue
        entries = {k.value: v for k, v in zip(node.keys, node.values) if isinstance(k, ast.Constant)}
        if "method" in entries and "url" in entries:
            url = entries["url"]
            if isinstance(url, ast.Call) and isinstance(url.func, ast.Attribute):
                url = url.func.value  # "/a/{x}/".format(x=...)
            if isinstance(entries["method"], ast.Constant) and isinstance(url, ast.Constant):
                return entries["method"].value.lower(), url.value
    return None


def members(annotation) -> list:
    """The types of a union, without `Unset` (an optional body's default)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        found = []
        for arg in typing.get_args(annotation):
            found.extend(members(arg))
        return found
    if getattr(annotation, "__name__", "") == "Unset":
        return []
    return [annotation]


def untyped(annotation) -> bool:
    return annotation is typing.Any or annotation is dict or typing.get_origin(annotation) is dict


def response_blocks(module) -> dict[int, ast.AST]:
    """`_parse_response`'s value per status: what `response_<status>` is first set to."""
    tree = ast.parse(inspect.getsource(module._parse_response))
    blocks = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.If)
            and isinstance(node.test, ast.Compare)
            and ast.unparse(node.test.left) == "response.status_code"
            and isinstance(node.test.comparators[0], ast.Constant)
        ):
            status = node.test.comparators[0].value
            for stmt in node.body:
                if isinstance(stmt, ast.Assign) and ast.unparse(stmt.targets[0]) == f"response_{status}":
                    blocks[status] = stmt.value
                    break
    return blocks


def parsed_untyped(value: ast.AST) -> bool:
    text = ast.unparse(value)
    return text == "response.json()" or text.startswith("cast(Any,")


def check(spec_path: Path, out: Path) -> tuple[list[str], dict]:
    """Generate from `spec_path` into `out`, import the client and list what is missing or
    untyped, each problem starting with its operationId."""
    spec = load(spec_path)
    problems: list[str] = []
    ok, log = generate(spec_path, out)
    if not ok:
        problems.append("generator: warnings or errors:\n" + "\n".join(
            "    " + line for line in log.splitlines() if line.strip()))
    sys.path.insert(0, str(out))
    try:
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]
        importlib.invalidate_caches()
        api_dir = out / PACKAGE / "api"
        served: dict[tuple[str, str], list] = {}
        for file in sorted(api_dir.glob("*/*.py")) if api_dir.is_dir() else []:
            if file.name == "__init__.py":
                continue
            module = importlib.import_module(f"{PACKAGE}.api.{file.parent.name}.{file.stem}")
            target = kwargs_target(module)
            if target is None:
                problems.append(f"{file.stem}: no method and url found in _get_kwargs")
                continue
            served.setdefault((target[0], template(target[1])), []).append(module)

        stats = {"operations": 0, "generated": 0, "bodies": 0, "responses": 0}
        for path, method, op in operations(spec):
            stats["operations"] += 1
            op_id = op.get("operationId", f"{method.upper()} {path}")
            modules = served.get((method, template(path)), [])
            if len(modules) != 1:
                problems.append(f"{op_id}: {len(modules)} generated functions for {method.upper()} {path}")
                continue
            module = modules[0]
            missing = [f for f in FUNCTIONS if not callable(getattr(module, f, None))]
            if missing:
                problems.append(f"{op_id}: the generated module lacks {', '.join(missing)}")
                continue
            stats["generated"] += 1
            hints = typing.get_type_hints(module.sync_detailed)

            content = (resolve(spec, op.get("requestBody")) or {}).get("content") or {}
            with_schema = {ct: mt["schema"] for ct, mt in content.items() if "schema" in mt}
            if with_schema:
                body = members(hints.get("body", typing.Any))
                if not body or any(untyped(t) for t in body):
                    problems.append(f"{op_id}: request body ({', '.join(with_schema)}) is untyped: {hints.get('body')}")
                elif len(set(body)) < len(with_schema):
                    problems.append(
                        f"{op_id}: {len(with_schema)} media types share {len(set(body))} class(es); "
                        f"the function cannot tell which encoding to send")
                else:
                    stats["bodies"] += 1
                for ct, schema in with_schema.items():
                    if ct != "multipart/form-data":
                        continue
                    files = [n for n, p in properties(spec, schema).items()
                             if resolve(spec, p).get("format") == "binary"]
                    # The part as the body classes declare it (one of them is the multipart one).
                    # Models name each other under `if TYPE_CHECKING`: resolve those
                    # forward references in the models package.
                    models = vars(importlib.import_module(f"{PACKAGE}.models"))
                    declared = [typing.get_type_hints(cls, localns=models)
                                for cls in set(body) if attrs.has(cls)]
                    for name in files:
                        kinds = [t for hints_ in declared for t in members(hints_.get(name, typing.Any))]
                        if "File" not in [getattr(t, "__name__", "") for t in kinds]:
                            problems.append(f"{op_id}: multipart part {name!r} is not a File: {kinds}")

            blocks = response_blocks(module)
            for status, response in op.get("responses", {}).items():
                response = resolve(spec, response)
                if not any("schema" in mt for mt in (response.get("content") or {}).values()):
                    continue
                value = blocks.get(int(status)) if str(status).isdigit() else None
                if value is None:
                    problems.append(f"{op_id}: response {status} is not parsed")
                elif parsed_untyped(value):
                    problems.append(f"{op_id}: response {status} is untyped: {ast.unparse(value)}")
                else:
                    stats["responses"] += 1
        return problems, stats
    finally:
        sys.path.remove(str(out))


def loosened(spec: dict) -> tuple[dict, set[str]]:
    """A copy the client check must refuse, and the operations it must name."""
    spec = copy.deepcopy(spec)
    json_bodies = []
    for _, _, op in operations(spec):
        body = resolve(spec, op.get("requestBody") or {})
        schema = ((body.get("content") or {}).get("application/json") or {}).get("schema")
        if schema is not None and "$ref" not in schema and schema.get("properties"):
            json_bodies.append((op, schema))
    (dropped, dropped_schema), (union, union_schema) = json_bodies[0], json_bodies[1]
    dropped_schema["properties"]["probe"] = {"$ref": "#/components/schemas/Problem/properties/code"}
    union_schema["anyOf"] = [{"required": [name]} for name in union_schema["properties"]]
    for _, _, op in operations(spec):
        ok = resolve(spec, op["responses"].get("200") or {})
        media = (ok.get("content") or {}).get("application/json")
        if "$ref" not in op["responses"].get("200", {}) and media and "schema" in media:
            media["schema"] = {}
            untyped_response = op
            break
    return spec, {dropped["operationId"], union["operationId"], untyped_response["operationId"]}


def main() -> int:
    started = time.monotonic()
    spec_path = Path(sys.argv[1]) if len(sys.argv) > 1 else SPEC
    with tempfile.TemporaryDirectory(prefix="client-") as tmp:
        tmp = Path(tmp)
        spec = callable_paths(load(spec_path))
        callable_path = tmp / "callable.json"
        callable_path.write_text(json.dumps(spec, default=str))
        problems, stats = check(callable_path, tmp / "client")
        for problem in problems:
            print(f"client: {problem}", file=sys.stderr, flush=True)
        print(
            f"client: {stats['generated']} of {stats['operations']} operations generated; "
            f"{stats['bodies']} request bodies and {stats['responses']} responses with a schema typed"
        )

        # The check must be able to fail.
        bad, expected = loosened(spec)
        bad_path = tmp / "loosened.json"
        bad_path.write_text(json.dumps(bad, default=str))
        bad_problems, _ = check(bad_path, tmp / "loosened")
        named = {p.split(":")[0] for p in bad_problems}
        if expected - named:
            print(
                f"client: a document with a dropped operation, an untyped body and an untyped "
                f"response passed for {sorted(expected - named)}; the check cannot fail",
                file=sys.stderr,
                flush=True,
            )
            problems.append("self-check")
        else:
            print(f"client: a loosened document fails it, as it should ({', '.join(sorted(expected))})")
    print(f"client: {time.monotonic() - started:.1f} s")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
