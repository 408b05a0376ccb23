# hafab: `make demo` builds and proves the cluster on the local lab; `make test` runs every test.
# Both run on a fresh Debian 12 machine as root and install what is missing first.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
INV := $(VENV)/bin/inv
# Machine packages: nspawn lab, sshd for the SSH tests, the config checkers for the template tests,
# vagrant for `vagrant validate`.
APT_PACKAGES := systemd-container debootstrap dpkg-dev openssh-server iproute2 haproxy keepalived \
	apache2 nftables vagrant vagrant-libvirt wrk sudo

.PHONY: demo test deps apt venv startup bytecode lab-down bench clean

demo: deps
	$(INV) lab.up
	$(INV) provision
	$(INV) verify --settle 20
	@echo
	@echo "The cluster is up and verified: curl http://$$($(PY) -c 'import yaml; print(yaml.safe_load(open("hosts.yaml"))["cluster"]["vip"])')/"
	@echo "Next: $(INV) outage --host web1 | $(INV) drill --plot drill.png | ssh -F .lab/ssh_config hap1 | $(INV) lab.down"

test: deps
	$(PY) -m pytest -q tests

deps: apt venv startup bytecode

apt:
	@bash .ci/apt-install $(APT_PACKAGES)

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

# Figures for the README's Performance table (not part of `make test`; several minutes).
bench: deps
	$(PY) bench/noop.py --hosts 4
	$(PY) bench/noop.py --hosts 32
	$(PY) bench/roundtrips.py
	$(PY) bench/change.py
	$(PY) bench/first.py
	$(PY) bench/throughput.py
	$(PY) bench/failover.py

# One line in the venv's site-packages (hafab-startup.pth) runs hafab/cli/startup.py when `inv` starts,
# before Invoke loads: Invoke's vendored PyYAML and unittest.mock + asyncio are then not loaded (see the
# module). Only the inv program is touched; any other Python of the venv skips the line.
startup: venv
	$(PY) hafab/cli/startup.py > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/hafab-startup.pth"

# hafab's modules byte-compiled ahead (gitignored __pycache__/): a task then starts without compiling them,
# even where PYTHONDONTWRITEBYTECODE keeps Python from saving what it compiles (~60 ms of each start here).
# A module edited later is simply compiled again in memory until the next `make`.
bytecode: venv
	$(PY) -m compileall -q hafab tasks.py >/dev/null

lab-down:
	$(INV) lab.down

clean: lab-down
	rm -rf $(VENV)
