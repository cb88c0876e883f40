#!/usr/bin/env bash
# `make iac`, after `make build`: the built template linted and scanned against the
# allow-list, then loaded as `sam local` loads it. Then proof that the checks can fail:
# `sam build` of a template the SAM CLI cannot build, and the scan of a built template
# that lost its API access log, must both fail.
set -euo pipefail
cd "$(dirname "$0")/../.."
built=.aws-sam/build/template.yaml
# The built template as deployed with the account page too (AccountPage=cloudfront adds
# its bucket and distribution): both are scanned.
with_page=.aws-sam/build-with-account-page.yaml
.venv/bin/python - "$built" "$with_page" <<'PY'
import sys
from samcli.yamlhelper import yaml_dump, yaml_parse
doc = yaml_parse(open(sys.argv[1]).read())
doc["Parameters"]["AccountPage"]["Default"] = "cloudfront"
open(sys.argv[2], "w").write(yaml_dump(doc))
PY
.venv-iac/bin/python tools/iac/scan.py "$built" "$with_page"
.venv/bin/python tools/iac/sam_local.py template.yaml "$built"

check=.aws-sam/selfcheck
rm -rf "$check" && mkdir -p "$check"
# The template with one Fn::ForEach block, the construct `sam build` once stopped on.
.venv/bin/python - "$check/template.yaml" <<'PY'
import sys
text = open("template.yaml").read()
block = """  Fn::ForEach::Topics:
    - Name
    - [One, Two]
    - ${Name}Topic:
        Type: AWS::SNS::Topic
"""
open(sys.argv[1], "w").write(text.replace("\nResources:\n", "\nResources:\n" + block, 1))
PY
if .venv/bin/sam build --beta-features --template "$check/template.yaml" --build-dir "$check/build" >"$check/build.log" 2>&1; then
  echo "iac: sam build passed a template it cannot build; the build step would not catch it" >&2
  exit 1
fi
echo "iac: sam build fails on a template it cannot build, as it should ($(grep -m1 -o "Plugin '[A-Za-z]*' raised an exception.*\|Error: .*" "$check/build.log" || echo 'see its log'))"
# The built template without the API's access log: a finding the allow-list does not hold.
.venv/bin/python - "$built" "$check/unlogged.yaml" <<'PY'
import sys
from samcli.yamlhelper import yaml_dump, yaml_parse
doc = yaml_parse(open(sys.argv[1]).read())
del doc["Resources"]["HttpApi"]["Properties"]["AccessLogSettings"]
open(sys.argv[2], "w").write(yaml_dump(doc))
PY
if .venv-iac/bin/python tools/iac/scan.py "$check/unlogged.yaml" >"$check/scan.log" 2>&1; then
  echo "iac: the scan passed an API without an access log" >&2
  exit 1
elif ! grep -q "ES2000 HttpApi" "$check/scan.log"; then
  echo "iac: the scan of an API without an access log failed for another reason:" >&2
  cat "$check/scan.log" >&2
  exit 1
fi
echo "iac: the scan fails on an API without an access log, as it should"
