# pyrunc: build, install, demo, tests, benchmarks.
#   make demo      system packages, build, a busybox bundle, one container that prints
#   make test      everything the tests need, then the whole test suite (as root)
#   make test-v2   only the tests marked cgroupv2, in the pure cgroup v2 VM
#   make test-node only the tests marked node, in the VM booted as a node (systemd, D-Bus, AppArmor)
#   make test-py313 build and test pyrunc with Debian 13's Python 3.13, in a cached trixie tree
#   make peers     the clients the tests drive: containerd 1.6, podman (Debian), containerd 2.x, crictl, critest (Go)
#   make install PREFIX=/usr/local
#   make conformance [RUNTIME=/usr/bin/runc] [TESTS="kill state"] [TIMEOUT=60]
#                  the runtime-tools validation suite against pyrunc (or RUNTIME)
#   make cri-validation [FOCUS=regexp]
#                  critest (Kubernetes' CRI validation suite) with pyrunc and runc as containerd's handlers
SHELL := /bin/bash
PYTHON ?= /usr/bin/python3
PREFIX ?= /usr/local
BUILD := $(CURDIR)/build
TEST_PREFIX := $(BUILD)/prefix
PYRUNC_TEST := $(TEST_PREFIX)/bin/pyrunc

# Debian packages: build deps (musl-tools for the static programs: setup.py says why), the
# bundles' busybox, the systemd driver's D-Bus client (jeepney), test peers (runc, crun), and the
# clients tests/clients drives (containerd 1.6 with ctr and its runc shim; podman, conmon); for
# make cri-validation: the image registry, the CNI plugins, iptables (portmap, masquerade) and
# nginx (copied into the web server images); sudo: critest's AppArmor tests load their profiles
# with `sudo apparmor_parser` (make cri-validation-node)
DEB_PACKAGES := gcc libc6-dev musl-tools make file busybox-static libcap-dev libseccomp-dev \
	python3 python3-dev python3-cffi python3-jeepney python3-setuptools python3-pip python3-pytest \
	python3-hypothesis python3-pyroute2 python3-jsonschema util-linux iproute2 procps strace runc crun \
	containerd podman conmon docker-registry containernetworking-plugins iptables nginx-light sudo

# containerd 2.x and crictl, built once from the Go module proxy at the versions pinned in
# tests/peers/versions.env; cached here, outside the tree, so later runs need no network
PEERS_CACHE ?= /var/cache/pyrunc-peers

# Tests marked cgroupv2 need a pure cgroup v2 host; they all run in one boot of a
# QEMU guest (tests/support/v2vm.sh) inside the same sandbox.  The VM part may
# take V2VM_TIMEOUT seconds before the guest is stopped (exit 124).
V2VM := tests/support/v2vm.sh
V2VM_TIMEOUT ?= 1200

# Tests marked node need a node: systemd as PID 1, D-Bus, pure cgroup v2, AppArmor.  They
# all run in one boot of the same VM booted as one (v2vm.sh --systemd), as the guest's
# service, outside sandbox.sh: they test the guest's own systemd, bus and cgroup tree, and
# the throwaway guest holds nothing else (pyrunc's cgroups stay in the service's subtree).
NODE_TIMEOUT ?= 900
CLIENT_ROUNDS ?= 10

.PHONY: all deps deps-v2vm deps-node build install demo test test-v2 v2-tests test-node node-tests \
	test-py313 py313-tests unit bench bundles peers fuzz schema conformance cri-validation cri-validation-node clean
GO ?= $(shell command -v go || echo /usr/local/go/bin/go)
# runtime-spec's JSON schema for `pyrunc check`, from its Go module (never copied into git)
SPEC_VERSION := v1.2.1
SCHEMA := $(BUILD)/runtime-spec-$(SPEC_VERSION)/schema

all: build

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y --no-install-recommends $$missing >/dev/null || \
		{ apt-get update >/dev/null && apt-get install -y --no-install-recommends $$missing >/dev/null; }; \
	fi

# qemu-system-x86 and kmod when missing, and the guest kernel + initramfs in its cache
deps-v2vm:
	@bash $(V2VM) --prepare

# the same, and the node's systemd, dbus and apparmor (the guest runs the host's)
deps-node:
	@bash $(V2VM) --systemd --prepare

build:
	$(PYTHON) setup.py -q build_ext --inplace
	$(PYTHON) -m compileall -q src/pyrunc

# A self-contained install: PREFIX/lib/pyrunc holds the package, pyrunc-cli and pyrunc-bootstrap
# (stage 1 when the front end starts it, see src/pyrunc/process/early.py), scripts which
# start it with the absolute interpreter in isolated mode (-I: no PYTHON*
# variables, no user site; -S: no site-packages scan), whatever PATH is.
# PREFIX/bin/pyrunc is the static front end (csrc/pyrunc_front.c): it does `start`
# and `delete` of ordinary containers itself and hands every other call to pyrunc-cli.
install:
	@set -e; lib="$(PREFIX)/lib/pyrunc"; py=$$(readlink -f $(PYTHON)); \
	mkdir -p "$(PREFIX)/bin" "$$lib"; \
	rm -rf "$$lib/pyrunc" "$$lib"/pyrunc-*.dist-info; \
	$$py -m pip install -q --no-deps --no-build-isolation --no-compile --target "$$lib" . 2>&1 | grep -v "as the 'root' user" || true; \
	test -x "$$lib/pyrunc/pyrunc-init" && test -x "$$lib/pyrunc/pyrunc-front" && test -f "$$lib/pyrunc/_native.abi3.so" && test -f "$$lib/pyrunc/_seccomp.abi3.so"; \
	rm -rf "$$lib/bin"; \
	if $(MAKE) -s schema; then cp -r $(SCHEMA) "$$lib/pyrunc/schema"; \
	else echo "warning: runtime-spec schema unavailable: pyrunc check will skip schema validation"; fi; \
	$$py -m compileall -q "$$lib/pyrunc"; \
	$$py -IS "$$lib/pyrunc/codepack.py" "$$lib"; \
	cffi=$$($$py -c 'import _cffi_backend, os; print(os.path.dirname(_cffi_backend.__file__))'); \
	script() { printf '%s\n' "#!$$py -IS" "\"\"\"$$2\"\"\"" 'import gc' 'import sys' "sys.path.insert(0, \"$$lib\")" \
		"sys.path.append(\"$$cffi\")" 'from pyrunc import GC_THRESHOLD' \
		'gc.set_threshold(GC_THRESHOLD)  # before any other import: cli.run_and_exit says why' \
		'from pyrunc import codepack' "codepack.install(\"$$lib\")  # the package's modules in one file: codepack says why" \
		"$$3" > "$$lib/$$1.tmp"; \
		chmod 755 "$$lib/$$1.tmp"; mv "$$lib/$$1.tmp" "$$lib/$$1"; }; \
	script pyrunc-cli 'pyrunc, as installed by `make install`.' 'from pyrunc.cli import run_and_exit; run_and_exit()'; \
	script pyrunc-bootstrap "pyrunc's stage 1, started early by the front end (process/early.py)." \
		'from pyrunc.process.entry import spawned; spawned(int(sys.argv[1]), int(sys.argv[2]))'; \
	mv "$$lib/pyrunc/pyrunc-front" "$(PREFIX)/bin/pyrunc.tmp"; mv "$(PREFIX)/bin/pyrunc.tmp" "$(PREFIX)/bin/pyrunc"; \
	echo "installed $(PREFIX)/bin/pyrunc"

peers: deps
	@GO=$(GO) bash tests/peers/build.sh $(PEERS_CACHE)

schema: $(SCHEMA)/config-schema.json
$(SCHEMA)/config-schema.json:
	@mkdir -p $(BUILD)/gomod
	@set -e; dir=$$(GOFLAGS=-mod=mod GOMODCACHE=$(BUILD)/gomod GOTOOLCHAIN=local $(GO) mod download -json \
		github.com/opencontainers/runtime-spec@$(SPEC_VERSION) | $(PYTHON) -c 'import json,sys; print(json.load(sys.stdin)["Dir"])'); \
	mkdir -p $(SCHEMA); cp "$$dir"/schema/*.json $(SCHEMA)/; chmod -R u+w $(BUILD)/gomod $(SCHEMA)

bundles:
	$(PYTHON) bundles/mkbundle.py bundles/build/demo demo >/dev/null

demo: deps build
	@$(MAKE) -s install PREFIX=$(TEST_PREFIX)
	@$(MAKE) -s bundles
	$(PYRUNC_TEST) --root $(BUILD)/demo-state run --bundle bundles/build/demo demo-$$$$

unit: build
	$(PYTHON) -m pytest -q tests/unit

# The whole suite runs as root inside a private cgroup+mount namespace whose
# cgroup mounts are rooted at a fresh cgroup of ours (tests/support/sandbox.sh):
# first on this host (the integration tests twice: through the installed front
# end, then through the Python CLI alone, so that both paths stay covered),
# then the cgroupv2 tests in the VM, even when the first part failed, and the other legs
# (fuzz, node VM, Debian 13, runtime-tools conformance, critest), each with its gate.
# PYRUNC_REQUIRE_PEERS: a client missing from make peers is a failure here, not a skip.
test: deps deps-v2vm build peers
	@$(MAKE) -s install PREFIX=$(TEST_PREFIX)
	PYRUNC=$(PYRUNC_TEST) PYRUNC_PEERS_CACHE=$(PEERS_CACHE) PYRUNC_REQUIRE_PEERS=1 \
		bash tests/support/sandbox.sh $(PYTHON) -m pytest -q -p no:cacheprovider -m "not cgroupv2" tests $(PYTEST_ARGS); \
	rc=$$?; \
	echo "the integration tests again, through the Python CLI alone (no front end):"; \
	PYRUNC=$(TEST_PREFIX)/lib/pyrunc/pyrunc-cli bash tests/support/sandbox.sh $(PYTHON) -m pytest -q -p no:cacheprovider \
		-m "not cgroupv2" tests/integration $(PYTEST_ARGS) || rc=1; \
	$(MAKE) -s v2-tests || rc=1; $(MAKE) -s fuzz || rc=1; \
	$(MAKE) -s node-tests || rc=1; $(MAKE) -s py313-tests || rc=1; \
	$(MAKE) -s conformance CONFORMANCE_GATE=tests/validation/expected-passes.txt || rc=1; \
	$(MAKE) -s cri-validation || rc=1; exit $$rc

test-v2: deps deps-v2vm build
	@$(MAKE) -s install PREFIX=$(TEST_PREFIX)
	@$(MAKE) -s v2-tests

test-node: deps deps-node build
	@$(MAKE) -s install PREFIX=$(TEST_PREFIX)
	@$(MAKE) -s node-tests

# Only the files holding the VM's tests go to the guest: under emulation,
# importing the other test modules there would cost seconds each.
v2-tests: VM_MARKER := cgroupv2
v2-tests: VM_NAME := cgroup v2 VM
v2-tests: VM_RUN := $(V2VM) --timeout $(V2VM_TIMEOUT)
v2-tests: VM_TIMEOUT := V2VM_TIMEOUT=$(V2VM_TIMEOUT)
v2-tests: VM_WRAP := bash tests/support/sandbox.sh
node-tests: VM_MARKER := node
node-tests: VM_NAME := node VM
node-tests: VM_RUN := $(V2VM) --systemd --timeout $(NODE_TIMEOUT)
node-tests: VM_TIMEOUT := NODE_TIMEOUT=$(NODE_TIMEOUT)
node-tests: VM_WRAP :=
v2-tests node-tests:
	@start=$$(date +%s); \
	out=$$($(PYTHON) -m pytest -q -p no:cacheprovider --collect-only -m $(VM_MARKER) tests $(PYTEST_ARGS)); rc=$$?; \
	if [ $$rc = 5 ]; then echo "no $(VM_MARKER) test selected"; exit 0; fi; \
	if [ $$rc != 0 ]; then echo "$$out"; echo "collecting the $(VM_MARKER) tests failed"; exit 1; fi; \
	files=$$(sed -n 's/::.*//p' <<<"$$out" | sort -u); \
	echo "$(VM_MARKER) tests in the $(VM_NAME) (emulated unless /dev/kvm is hardware KVM):" $$files; \
	bash $(VM_RUN) env PYRUNC=$(PYRUNC_TEST) $(VM_WRAP) \
		$(PYTHON) -m pytest -q -p no:cacheprovider -m $(VM_MARKER) $$files $(PYTEST_ARGS); rc=$$?; \
	echo "$(VM_NAME) part: $$(( $$(date +%s) - start )) s, exit $$rc"; \
	case $$rc in 124) echo "the $(VM_NAME) timed out ($(VM_TIMEOUT))";; \
		125) echo "the $(VM_NAME) did not boot or died: see the v2vm lines above";; esac; \
	exit $$rc

# Debian 13's Python 3.13 (tests/support/debian13.sh): a trixie tree made once with
# debootstrap into PYRUNC_TRIXIE_CACHE (default /var/cache/pyrunc-trixie), where a copy of
# the project is built, installed and tested (unit, integration, a seccomp lifecycle).
test-py313: deps build
	@$(MAKE) -s schema
	@$(MAKE) -s py313-tests

py313-tests:
	@start=$$(date +%s); bash tests/support/debian13.sh; rc=$$?; \
	echo "Debian 13 (Python 3.13) part: $$(( $$(date +%s) - start )) s, exit $$rc"; exit $$rc

# A bounded coverage-guided run of the config loader, validator and planner (atheris, from PyPI).
FUZZ_SECONDS ?= 60
fuzz: build
	@test -d $(BUILD)/atheris/atheris || $(PYTHON) -m pip install -q --target $(BUILD)/atheris atheris 2>&1 | grep -v "as the 'root' user" || true
	@rm -rf $(BUILD)/fuzz-corpus && cp -r tests/fuzz/corpus $(BUILD)/fuzz-corpus
	set -o pipefail; PYTHONPATH=$(BUILD)/atheris:src $(PYTHON) tests/fuzz/fuzz_config.py -max_total_time=$(FUZZ_SECONDS) \
		-print_final_stats=1 $(BUILD)/fuzz-corpus 2>&1 | tail -12

# runtime-tools' validation suite, built once per pinned commit (Go module proxy,
# /usr/local/go) into /var/cache/pyrunc-conformance, run in the sandbox.  Without
# RUNTIME it tests the pyrunc installed into build/prefix.  crun 1.8 needs
# SANDBOX_HIDE_UNIFIED=1 on a hybrid host (and refuses this suite's ociVersion 1.3.0).
TIMEOUT ?= 60
CONFORMANCE_GATE ?=
conformance: deps
	@if [ -z "$(RUNTIME)" ]; then $(MAKE) -s build >/dev/null 2>&1 && $(MAKE) -s install PREFIX=$(TEST_PREFIX); fi
	@$(PYTHON) -m tests.validation.suite >/dev/null
	@bash tests/support/sandbox.sh $(PYTHON) -m tests.validation.run --timeout $(TIMEOUT) \
		$(if $(CONFORMANCE_GATE),--expect-passes $(CONFORMANCE_GATE)) --runtime $(or $(RUNTIME),$(PYRUNC_TEST)) $(TESTS)

# critest from cri-tools (make peers builds it at crictl's pinned version) against one private
# containerd 2.x whose CRI has a pyrunc and a runc handler, run in the sandbox and in a private
# network namespace (tests/cri/run.py); ends with one summary line.  It fails when a test passes
# with runc and not with pyrunc, and (whole runs: not with FOCUS) when a test named in CRI_GATE
# does not pass with pyrunc.
CRI_GATE ?= tests/cri/expected-passes.txt
cri-validation: deps peers
	@$(MAKE) -s build >/dev/null 2>&1 && $(MAKE) -s install PREFIX=$(TEST_PREFIX) >/dev/null
	@PYRUNC_PEERS_CACHE=$(PEERS_CACHE) bash tests/support/sandbox.sh unshare --net -- $(PYTHON) -m tests.cri.run \
		--handler pyrunc=$(PYRUNC_TEST) --handler runc=$$(command -v runc) \
		$(if $(FOCUS),--focus '$(FOCUS)',$(if $(CRI_GATE),--expect-passes $(CRI_GATE)))

# The same in the node VM (v2vm.sh --systemd: systemd cgroup driver, AppArmor, pure cgroup v2),
# outside sandbox.sh like the node tests; not part of make test yet (no gate file for the node).
# Its own UTS namespace named localhost: sudo (critest's AppArmor tests) warns on stderr, which
# critest takes for a failure, when the guest's hostname is not in /etc/hosts.
cri-validation-node: deps deps-node peers
	@$(MAKE) -s build >/dev/null 2>&1 && $(MAKE) -s install PREFIX=$(TEST_PREFIX) >/dev/null
	@bash $(V2VM) --systemd --timeout $(NODE_TIMEOUT) env PYRUNC_PEERS_CACHE=$(PEERS_CACHE) unshare --net --uts -- \
		sh -c 'hostname localhost && exec "$$@"' sh $(PYTHON) -m tests.cri.run --node --out build/cri-validation-node \
		--handler pyrunc=$(PYRUNC_TEST) --handler runc=$$(command -v runc) $(if $(FOCUS),--focus '$(FOCUS)')

# crun 1.8 refuses hybrid hosts whose cgroup2 has controllers: the sandbox hides it for all three
bench: deps build peers
	@$(MAKE) -s install PREFIX=$(TEST_PREFIX)
	SANDBOX_HIDE_UNIFIED=1 bash tests/support/sandbox.sh $(PYTHON) tests/bench/bench.py $(PYRUNC_TEST) --json $(BUILD)/bench.json $(BENCH_ARGS)
	PYRUNC_PEERS_CACHE=$(PEERS_CACHE) bash tests/support/sandbox.sh $(PYTHON) tests/bench/clients.py $(PYRUNC_TEST) \
		--rounds $(CLIENT_ROUNDS) --json $(BUILD)/bench-clients.json

clean:
	rm -rf build bundles/build src/pyrunc/_native*.so src/pyrunc/pyrunc-init src/pyrunc/pyrunc-front src/*.egg-info
	find src tests -name __pycache__ -prune -exec rm -rf {} +
