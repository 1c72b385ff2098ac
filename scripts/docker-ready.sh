#!/usr/bin/env bash
# Make the docker provider usable here: Debian's docker.io and debootstrap installed, and a
# docker daemon answering. A daemon this script starts gets no bridge, no iptables rules and
# no masquerading: lab containers use `network_mode: none`, and nothing may NAT outside.
set -euo pipefail

missing=""
for pkg in docker.io debootstrap; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  echo "installing:$missing"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if docker info >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "the docker daemon is not running; start it as root (sudo $0)" >&2
  exit 2
fi
log=/var/log/ovn-lab-dockerd.log
echo "starting dockerd (log: $log)"
nohup dockerd --bridge=none --iptables=false --ip-masq=false >"$log" 2>&1 </dev/null &
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    exit 0
  fi
  sleep 0.5
done
echo "dockerd did not answer within 30 s; see $log" >&2
tail -5 "$log" >&2 || true
exit 1
