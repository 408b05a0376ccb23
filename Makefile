# hafab: `make demo` builds and proves the cluster on the local lab; `make test` runs every test.
# Both run on a fresh Debian 12 machine as root and install what is missing first.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
INV := $(VENV)/bin/inv
# Machine packages: nspawn lab, sshd for the SSH tests, the config checkers for the template tests,
# vagrant for `vagrant validate`.
APT_PACKAGES := systemd-container debootstrap dpkg-dev openssh-server iproute2 haproxy keepalived \
	apache2 nftables vagrant vagrant-libvirt

.PHONY: demo test deps apt venv lab-down bench clean

demo: deps
	$(INV) lab.up
	$(INV) provision
	$(INV) lab.status
	@echo
	@echo "The cluster is up. Next: $(INV) verify; ssh -F .lab/ssh_config hap1; $(INV) outage --host web1"

test: deps
	$(PY) -m pytest -q tests

deps: apt venv

apt:
	@bash .ci/apt-install $(APT_PACKAGES)

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

lab-down:
	$(INV) lab.down

clean: lab-down
	rm -rf $(VENV)
