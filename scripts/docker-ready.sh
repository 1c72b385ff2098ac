#!/usr/bin/env bash
# Make the docker provider usable here without disturbing a docker that is already set up:
#   1. a docker daemon that answers (`docker info`) is used as it is, whatever installed it
#      (Docker CE, Debian's docker.io, a remote DOCKER_HOST); nothing is installed or started;
#   2. a docker that is installed but not running is started the way the machine runs it:
#      `systemctl start docker` on a systemd host (its own configuration, no second daemon);
#      elsewhere (containers, sandboxes) one dockerd with --bridge=none --iptables=false
#      --ip-masq=false: no bridge, no firewall rule, no NAT (lab containers use network_mode
#      none, and nothing may NAT outside);
#   3. only a machine with no docker at all gets Debian's docker.io installed.
# debootstrap (for `lab image build`) is installed when it is missing. Every action is said.
set -euo pipefail

SYSTEMD_DIR="${OVN_LAB_SYSTEMD_DIR:-/run/systemd/system}"  # exists when systemd runs the host
LOG="${OVN_LAB_DOCKERD_LOG:-/var/log/ovn-lab-dockerd.log}"
PIDFILE="${OVN_LAB_DOCKERD_PIDFILE:-/run/ovn-lab-dockerd.pid}"
FLAGS=(--bridge=none --iptables=false --ip-masq=false)

say() { echo "docker-ready: $*"; }
is_root() { [ "$(id -u)" = 0 ]; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
answers() { docker info >/dev/null 2>&1; }

apt_install() {
  if ! is_root; then
    say "$* must be installed; run this as root (sudo $0)" >&2
    exit 2
  fi
  say "installing: $*"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

wait_for_daemon() {  # $1: what to show when it never answers
  for _ in $(seq 1 60); do
    if answers; then
      return 0
    fi
    sleep 0.5
  done
  say "the docker daemon did not answer within 30 s; $1" >&2
  exit 1
}

if ! command -v debootstrap >/dev/null 2>&1 && ! installed debootstrap; then
  apt_install debootstrap
fi

if command -v docker >/dev/null 2>&1 && answers; then
  say "using the docker daemon that answers ($(docker info --format '{{.ServerVersion}}' 2>/dev/null || echo '?')); nothing changed"
  exit 0
fi

# No daemon to start here (none at all, or only a client, as some images ship one), and
# no remote daemon named: Debian's docker.io brings dockerd and containerd.
if ! command -v dockerd >/dev/null 2>&1 && [ -z "${DOCKER_HOST:-}" ]; then
  apt_install docker.io
  if answers; then  # its package started it (systemd): that daemon is the machine's docker now
    say "docker.io installed; its package started docker.service with Docker's defaults" \
      "(bridge docker0, iptables NAT), which lab containers do not use (network_mode none);" \
      "see systemctl status docker, and /etc/docker/daemon.json to change them"
    exit 0
  fi
fi

if ! command -v docker >/dev/null 2>&1; then
  say "dockerd is here but the docker client is not; install your docker's client" \
    "(docker-ce-cli, or Debian's docker.io)" >&2
  exit 2
fi
if ! command -v dockerd >/dev/null 2>&1; then
  say "the docker client cannot reach a daemon and there is no dockerd here to start" \
    "(DOCKER_HOST=${DOCKER_HOST:-unset}); start the daemon you use, or use --provider netns" >&2
  exit 2
fi
if ! is_root; then
  say "the docker daemon is not running; start it as root (sudo $0)" >&2
  exit 2
fi

if [ -d "$SYSTEMD_DIR" ]; then
  say "starting the machine's own docker service: systemctl start docker"
  systemctl start docker
  wait_for_daemon "see: systemctl status docker; journalctl -u docker"
  say "docker.service is running, configured as this machine configures it"
  exit 0
fi

say "no systemd here; starting: dockerd ${FLAGS[*]} (log $LOG)"
nohup dockerd "${FLAGS[@]}" >"$LOG" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$PIDFILE"
wait_for_daemon "see $LOG: $(tail -3 "$LOG" 2>/dev/null | tr '\n' ' ')"
say "dockerd is running as pid $pid (pid file $PIDFILE); it made no bridge, no iptables rule," \
  "no NAT. Stop it with: kill \$(cat $PIDFILE)"
