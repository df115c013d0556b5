# maptuner: build, local invocation, lint and test.
#
#   make build                     host-arch bootstraps in bin/<fn>/ for local runs
#   make invoke                    run watch and tune under the Lambda Runtime
#                                  Interface Emulator on a local account until
#                                  the first UpdateMapRun (scripts/rehearse -u)
#   make invoke FN=watch EVENT=events/status-running.json
#                                  run one function under the emulator with one
#                                  event, against the AWS_ENDPOINT_URL_* of the
#                                  environment (the table is created on a
#                                  loopback DynamoDB endpoint)
#   make rehearse SCENARIO=file    the real bootstraps against maptuner-local
#                                  on a scenario, one simulated minute a tick;
#                                  TICKS (30) ticks at most
#   make demo                      run the tuner on the built-in sample job in a
#                                  simulated account: no AWS account needed
#   make demo SCENARIO=file        the same on another scenario (docs/scenarios.md);
#                                  DEMO_FLAGS='-seed 2' passes more options
#                                  (go run ./cmd/maptuner-demo -h lists them)
#   make lint                      gofmt, go vet, staticcheck, cfn-lint
#   make test                      lint, then go test ./... (what CI runs)
#   make fuzz                      run every fuzz target FUZZTIME (60s) each;
#                                  a summary line per target, logs in out/fuzz/
#   make tools                     install what lint and the tests need
#   make bench                     run the benchmark suite; writes BENCHMARKS.md
#                                  and the plots in docs/bench/
#   make bench-tick                measure ticks of the tune bootstrap under the
#                                  emulator at 1,000 open runs against the local
#                                  account; writes docs/bench/tick-rie.txt
#   make bench-tick DYNAMODB=dynalite
#                                  the same with dynalite (installed into
#                                  bin/tools) for DynamoDB instead of moto
#   make reliability               run the fault matrix, fault scenarios and
#                                  soak; rewrites their tables in
#                                  docs/RELIABILITY.md (make test checks them)
#
# sam build calls build-WatchFunction and build-TuneFunction (BuildMethod:
# makefile) with ARTIFACTS_DIR set.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build
MAKEFLAGS += --no-print-directory

GO ?= go
PIP ?= python3 -m pip

# Tools installed into the project by make tools; versions are pinned so that
# every machine lints and tests with the same ones.
TOOLS := $(CURDIR)/bin/tools
RIE := $(TOOLS)/aws-lambda-rie
STATICCHECK := $(TOOLS)/staticcheck
JQ := $(TOOLS)/gojq
# The emulator has no semantic-version tags, so it is pinned by pseudo-version.
RIE_VERSION ?= v0.0.0-20261030222936-bef5c4ba774d
STATICCHECK_VERSION ?= v0.8.2
GOJQ_VERSION ?= v0.12.17
MOTO_VERSION ?= 5.2.1
CFN_LINT_VERSION ?= 1.51.0
DYNALITE_VERSION ?= 4.0.0

FUNCTIONS := watch tune
LAMBDA_TAGS := lambda.norpc
LAMBDA_LDFLAGS := -s -w

.PHONY: build build-WatchFunction build-TuneFunction $(addprefix build-local-,$(FUNCTIONS)) \
	policycheck invoke lint test tools clean

# --- sam build ---------------------------------------------------------------

ifneq ($(filter build-WatchFunction build-TuneFunction,$(MAKECMDGOALS)),)
ifeq ($(ARTIFACTS_DIR),)
$(error ARTIFACTS_DIR is not set: sam build sets it)
endif
endif

build-WatchFunction: FUNCTION := watch
build-TuneFunction: FUNCTION := tune
build-WatchFunction build-TuneFunction: policycheck
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags $(LAMBDA_TAGS) -trimpath \
		-ldflags='$(LAMBDA_LDFLAGS)' -o '$(ARTIFACTS_DIR)/bootstrap' ./functions/$(FUNCTION)
	cp policies.yaml '$(ARTIFACTS_DIR)/policies.yaml'

# --- local -------------------------------------------------------------------

policycheck:
	$(GO) run ./cmd/policycheck policies.yaml

build: $(addprefix build-local-,$(FUNCTIONS))

# bin/<fn>/ is laid out as the function's /var/task: bootstrap and policies.yaml.
$(addprefix build-local-,$(FUNCTIONS)): build-local-%: policycheck
	CGO_ENABLED=0 $(GO) build -tags $(LAMBDA_TAGS) -trimpath -o bin/$*/bootstrap ./functions/$*
	cp policies.yaml bin/$*/policies.yaml

ifneq ($(filter invoke,$(MAKECMDGOALS)),)
ifneq ($(FN)$(EVENT),)
ifneq ($(words $(FN)),1)
$(error FN must name one function: make invoke FN=watch|tune EVENT=events/<file>.json)
endif
ifeq ($(filter $(FN),$(FUNCTIONS)),)
$(error FN=$(FN) is not a function; want one of: $(FUNCTIONS))
endif
ifeq ($(EVENT),)
$(error EVENT must name an event file, for example EVENT=events/schedule.json)
endif
endif
endif

# Without FN, the whole path once: a simulated account and moto, the table,
# an opted-in execution, its RUNNING event to watch, then tune until it
# sends an UpdateMapRun. With FN, the function gets this environment: AWS_*
# (credentials, AWS_REGION, AWS_ENDPOINT_URL_* for local endpoints) and the
# function settings (TABLE_NAME, DRY_RUN, ...), with defaults from
# scripts/invoke; on a loopback DynamoDB endpoint the table is created first.
ifeq ($(FN),)
invoke: tools build bin/maptuner-local
	RIE='$(RIE)' JQ='$(JQ)' scripts/rehearse -u -n 10 builtin
else
invoke: build-local-$(FN) $(RIE)
	@if [[ $${AWS_ENDPOINT_URL_DYNAMODB:-} =~ ^https?://(127\.0\.0\.1|localhost)[:/] ]]; then \
		scripts/local-table "$${TABLE_NAME:-maptuner}"; fi
	RIE='$(RIE)' scripts/invoke bin/$(FN) '$(EVENT)'
endif

# The real bootstraps against maptuner-local on SCENARIO (default the
# built-in one), with the event clock: scripts/rehearse.
TICKS ?= 30

.PHONY: rehearse bin/maptuner-local
rehearse: tools build bin/maptuner-local
	RIE='$(RIE)' JQ='$(JQ)' scripts/rehearse -n '$(TICKS)' '$(or $(SCENARIO),builtin)'

bin/maptuner-local:
	CGO_ENABLED=0 $(GO) build -trimpath -o $@ ./cmd/maptuner-local

# The demo runs the bootstraps of bin/ under the emulator of bin/tools. It
# is compiled as they are (CGO_ENABLED=0, -trimpath), so that it reuses the
# packages their build compiled. It writes its plot to out/demo.svg.
.PHONY: demo
demo: tools build
	CGO_ENABLED=0 $(GO) run -trimpath ./cmd/maptuner-demo -bootstraps bin $(if $(SCENARIO),-scenario '$(SCENARIO)') $(DEMO_FLAGS)

# --- checks ------------------------------------------------------------------

lint: $(STATICCHECK)
	@unformatted=$$(gofmt -l .); \
	if [[ -n $$unformatted ]]; then echo "gofmt: not formatted:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...
	cfn-lint template.yaml

test: tools lint
	$(GO) test ./...

# --- reliability -------------------------------------------------------------

.PHONY: reliability
reliability: tools
	$(GO) test ./internal/lab/reliability -count=1 -update

# Every Fuzz function of the module, one after the other: go test -list
# names them per package. A failing target leaves its input in the
# package's testdata/fuzz/<Name>/; the others still run, and the target
# fails at the end.
FUZZTIME ?= 60s

.PHONY: fuzz
fuzz:
	@mkdir -p out/fuzz && : > out/fuzz/summary
	@$(GO) test -list '^Fuzz' ./... | awk '/^Fuzz/ { names[n++] = $$1; next } \
		/^ok / { for (i = 0; i < n; i++) print $$2, names[i] } { n = 0 }' > out/fuzz/targets
	@failed=0; \
	while read -r pkg name; do \
		log="out/fuzz/$${pkg##*/}.$$name.log"; \
		if $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime '$(FUZZTIME)' "$$pkg" < /dev/null > "$$log" 2>&1; then \
			result=ok; \
		else \
			result="FAIL ($$(awk '/Failing input written to/ { print $$NF }' "$$log"))"; failed=1; \
		fi; \
		execs=$$(awk '{ for (i = 1; i < NF; i++) if ($$i == "execs:") n = $$(i + 1) } END { print (n == "" ? "-" : n) }' "$$log"); \
		printf '%s %s execs=%s %s\n' "$$pkg" "$$name" "$$execs" "$$result" | tee -a out/fuzz/summary; \
	done < out/fuzz/targets; \
	exit $$failed

# --- benchmark ---------------------------------------------------------------

.PHONY: bench
bench:
	$(GO) run ./cmd/maptuner-bench -all scenarios -seeds 10

# A tick at 1,000 open runs (scenarios/thousand-runs.yaml) of the real tune
# bootstrap under the emulator, against the simulated account over HTTP and
# DynamoDB (DYNAMODB=moto, the default, or dynalite): wall time, the
# emulator's Duration, and the bootstrap's CPU time and peak memory per tick
# (cmd/maptuner-tickbench). moto answers a Query of 1,000 items in seconds,
# past the tuner's 10 s call timeout on a loaded machine; dynalite, a
# DynamoDB in Node.js, in well under one. Its figures vary by machine: it is
# run apart from make bench and make test.
DYNAMODB ?= moto
DYNALITE := $(TOOLS)/dynalite/node_modules/dynalite/cli.js
TICKBENCH_FLAGS ?=

ifneq ($(filter bench-tick,$(MAKECMDGOALS)),)
ifeq ($(filter $(DYNAMODB),moto dynalite),)
$(error DYNAMODB=$(DYNAMODB): want moto or dynalite)
endif
endif

.PHONY: bench-tick
bench-tick: tools build-local-tune $(if $(filter dynalite,$(DYNAMODB)),$(DYNALITE))
	CGO_ENABLED=0 $(GO) run -trimpath ./cmd/maptuner-tickbench -bootstrap bin/tune/bootstrap \
		-emulator '$(RIE)' $(if $(filter dynalite,$(DYNAMODB)),-dynalite '$(DYNALITE)') \
		-command 'make bench-tick DYNAMODB=$(DYNAMODB)' -out docs/bench/tick-rie.txt $(TICKBENCH_FLAGS)

# --- tools -------------------------------------------------------------------

tools: $(RIE) $(STATICCHECK) $(JQ)
	@python3 -c 'import moto.server, werkzeug' >/dev/null 2>&1 || $(PIP) install 'moto[server]==$(MOTO_VERSION)'
	@command -v cfn-lint >/dev/null 2>&1 || $(PIP) install 'cfn-lint==$(CFN_LINT_VERSION)'

$(RIE):
	GOBIN='$(TOOLS)' $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

$(DYNALITE):
	npm install --prefix '$(TOOLS)/dynalite' --no-audit --no-fund --no-save 'dynalite@$(DYNALITE_VERSION)'

$(STATICCHECK):
	GOBIN='$(TOOLS)' $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

$(JQ):
	GOBIN='$(TOOLS)' $(GO) install github.com/itchyny/gojq/cmd/gojq@$(GOJQ_VERSION)

clean:
	rm -rf $(addprefix bin/,$(FUNCTIONS)) bin/maptuner-local .aws-sam
