#!/usr/bin/env bash
# Make `VAGRANT_DEFAULT_PROVIDER=docker vagrant up` usable here: Debian's vagrant (2.3.4 on
# bookworm, its docker provider is built in) installed, a docker daemon answering
# (scripts/docker-ready.sh: no bridge, no iptables, no NAT) and ansible-playbook on PATH for
# Vagrant's ansible provisioner. Quick and silent when everything is there already.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

if ! command -v vagrant >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "vagrant is not installed; install it as root (sudo $0)" >&2
    exit 2
  fi
  echo "installing: vagrant"
  apt-get update -qq
  # --no-install-recommends: not vagrant-libvirt (install it yourself for the libvirt provider)
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends vagrant >/dev/null
fi

bash "$here/docker-ready.sh"

if ! command -v ansible-playbook >/dev/null 2>&1; then
  venv="$(cd "$here/.." && pwd)/.venv/bin"
  if [ ! -x "$venv/ansible-playbook" ]; then
    echo "ansible-playbook is missing: run \`make install\` (it comes with .venv)" >&2
    exit 2
  fi
  echo "note: for vagrant up, put ansible-playbook on PATH: export PATH=\"$venv:\$PATH\""
fi
