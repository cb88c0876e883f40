# User Profile Service — developer commands. Everything the project needs is installed
# into the project itself (.venv for the Python tools); nothing global beyond Rust.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
EMULATOR_PORT ?= 4566
API_PORT ?= 3000
FUNCTIONS := authorizer profile consents segments local-info profiles-api ci accounts media privacy events loyalty-sync
export SAM_CLI_TELEMETRY := 0

.PHONY: help setup dev test publish-page invoke invoke-all browser-deps browser-test contract client outside-clients hash-fixture lint fmt template build iac sizes bench clean

help: ## List the commands
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(VENV)/.installed: tools/emulator/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/emulator/requirements.txt
	touch $@

$(VENV)/.installed-build: $(VENV)/.installed tools/emulator/requirements-build.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/emulator/requirements-build.txt
	touch $@

# A tool's own venv has no pip of its own: the emulator venv's pip installs into it
# (pip --python), so venv's ensurepip runs once, for .venv (a CI machine's ensurepip once
# failed creating the second venv, saying nothing of why).
define side-venv
	rm -rf $(1)
	$(PYTHON) -m venv --without-pip $(1)
	$(VENV)/bin/pip --python $(1)/bin/python install --quiet --disable-pip-version-check -r $(2)
	touch $(1)/.installed
endef

setup: $(VENV)/.installed ## Install the emulator (moto) and the SAM CLI into .venv

dev: setup ## Emulator + every template route on http://127.0.0.1:3000 (Ctrl-C stops)
	cargo build -p local-api
	EMULATOR_PORT=$(EMULATOR_PORT) API_PORT=$(API_PORT) tools/dev.sh

test: setup ## Unit and integration tests (the harness starts the emulator), then invoke-all and the account page in Chromium
	cargo test --workspace
	$(MAKE) --no-print-directory invoke-all
	$(MAKE) --no-print-directory browser-test

# Debian's Chromium and its driver (the test never downloads a browser); as root, or
# through sudo where there is one.
browser-deps:
	@[ -n "$$CHROMIUM" ] || { command -v chromium >/dev/null && command -v chromedriver >/dev/null; } || { \
	  as_root=$$( [ "$$(id -u)" = 0 ] && echo "" || echo sudo ); \
	  $$as_root apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$as_root apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-liberation >/dev/null; }

$(VENV)-browser/.installed: tools/account-page/requirements.txt | $(VENV)/.installed
	$(call side-venv,$(VENV)-browser,tools/account-page/requirements.txt)

browser-test: setup browser-deps $(VENV)-browser/.installed ## The account page (/account/) in headless Chromium with a virtual passkey authenticator; screenshots in target/account-page/
	cargo build -q -p local-api
	tools/account-page/run.sh

publish-page: setup ## STACK=<name>: upload web/account/ to a stack deployed with AccountPage=cloudfront
	@test -n "$(STACK)" || { echo "usage: make publish-page STACK=<stack name>" >&2; exit 2; }
	$(VENV)/bin/python tools/account-page/publish.py --stack $(STACK)

invoke: setup ## FN=<function> EVENT=<file>: one payload through its binary under the Lambda RIE
	@test -n "$(FN)" -a -n "$(EVENT)" || { echo "usage: make invoke FN=profile EVENT=events/profile/get-profile.200.json" >&2; exit 2; }
	cargo build -q -p invoke -p $(FN)
	target/debug/invoke $(FN) $(EVENT)

invoke-all: setup ## Every events/ payload through its function under the Lambda RIE
	cargo build -q -p invoke $(addprefix -p ,$(FUNCTIONS))
	target/debug/invoke --all
	@# The check must be able to fail: a payload whose name states the wrong status.
	@tmp=$$(mktemp -d) && cp events/local-info/get-local-info.200.json $$tmp/get-local-info.500.json && \
	  if target/debug/invoke local-info $$tmp/get-local-info.500.json >/dev/null 2>&1; then \
	    echo "invoke-all: a payload named with the wrong status passed" >&2; rm -rf $$tmp; exit 1; \
	  else echo "invoke-all: a payload named with the wrong status fails, as it should"; rm -rf $$tmp; fi

$(VENV)-contract/.installed: tools/contract/requirements.txt | $(VENV)/.installed
	$(call side-venv,$(VENV)-contract,tools/contract/requirements.txt)

contract: setup $(VENV)-contract/.installed ## Schemathesis against openapi.yaml on the local stack, as a user and as an API token
	cargo build -q -p local-api -p profilectl
	tools/contract/run.sh

$(VENV)-client/.installed: tools/client/requirements.txt | $(VENV)/.installed
	$(call side-venv,$(VENV)-client,tools/client/requirements.txt)

client: $(VENV)-client/.installed ## A Python client generated from openapi.yaml (openapi-python-client): every operation, typed
	$(VENV)-client/bin/python tools/client/check.py

tools/outside-clients/node_modules/.installed: tools/outside-clients/package-lock.json
	npm ci --prefix tools/outside-clients --no-audit --no-fund --loglevel=error
	touch $@

outside-clients: setup tools/outside-clients/node_modules/.installed ## Clients nobody here wrote (seed 002's Node samples, a strict OAuth library) against the local stack
	cargo build -q -p local-api
	.venv/bin/python tools/outside-clients/run.py

hash-fixture: ## Remake tests/fixtures/imported_hashes.json with Django, bcrypt and argon2-cffi (a venv of its own)
	python3 -m venv $(VENV)-hashes
	$(VENV)-hashes/bin/pip install -q -r tools/import-hashes/requirements.txt
	$(VENV)-hashes/bin/python tools/import-hashes/make_fixture.py tests/fixtures/imported_hashes.json

lint: setup ## rustfmt check, clippy -D warnings, template freshness, sam validate --lint, OpenAPI validation
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	$(VENV)/bin/python tools/iac/template.py --check
	$(VENV)/bin/sam validate --lint
	$(VENV)/bin/openapi-spec-validator openapi.yaml

fmt: ## Format the code
	cargo fmt --all

template: setup ## Rewrite template.yaml's generated section (log groups, alarms, dashboard) from its functions and queues
	$(VENV)/bin/python tools/iac/template.py

build: $(VENV)/.installed-build ## sam build: arm64 functions via cargo-lambda + zig, no Docker
	rustup target add aarch64-unknown-linux-gnu
	@# One cargo run for every function links two at a time on two cores; sam build's own
	@# run per function then finds each one built (same flags) instead of linking one by one.
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo lambda build --release --arm64 $(addprefix --bin ,$(FUNCTIONS))
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/sam build --beta-features

$(VENV)-iac/.installed: tools/iac/requirements.txt | $(VENV)/.installed
	$(call side-venv,$(VENV)-iac,tools/iac/requirements.txt)

iac: build $(VENV)-iac/.installed ## make build, then cfn-lint (+ serverless rules) and checkov on the built template, and sam local's loading of it
	tools/iac/run.sh

sizes: build ## Release arm64 binary size per function
	@for f in $(FUNCTIONS); do printf '%-12s %s bytes\n' $$f $$(stat -c %s $${CARGO_TARGET_DIR:-target}/lambda/$$f/bootstrap); done

bench: setup ## Init time vs a bare lambda_runtime function, peak RSS under load
	cargo build --release $(addprefix --bin ,$(FUNCTIONS)) --bin hello-lambda --bin bench
	target/release/bench

clean: ## Remove build output and the venvs
	cargo clean
	rm -rf $(VENV) $(VENV)-contract $(VENV)-iac $(VENV)-client $(VENV)-browser .aws-sam
