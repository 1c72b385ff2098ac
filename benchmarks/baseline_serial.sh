#!/bin/bash
# The naive serial baseline of DESIGN.md ("Platform facts"): bring up N bare OVN chassis
# (no central, no logical network, no VMs), one after the other, the way a shell script
# written by hand would. benchmarks/scale.py times it next to `lab up`.
#
#   benchmarks/baseline_serial.sh N PREFIX      # then: benchmarks/baseline_cleanup.sh PREFIX
#
# Everything it makes is named PREFIX-...: namespaces PREFIX-fabric (a Linux bridge, the
# wire) and PREFIX-hv1..N (each joined to the bridge by a veth made inside the two
# namespaces, so nothing appears in the host's namespace), and one directory per chassis
# under ${TMPDIR:-/tmp}/PREFIX.baseline/ holding that chassis' db, sockets, pidfiles, logs.
# Chassis i gets 198.18.x.y/16 on eth0; ovn-remote points at 198.18.0.1, where nothing
# listens (so ovn-controller keeps retrying: honest for "bare chassis").
set -euo pipefail

if [[ $# -ne 2 || ! $1 =~ ^[1-9][0-9]*$ || ! $2 =~ ^[a-z][a-z0-9-]{0,7}$ ]]; then
    echo "usage: $0 N PREFIX   (N >= 1; PREFIX: lowercase, at most 8 characters)" >&2
    exit 2
fi
N=$1
P=$2
WORK=${TMPDIR:-/tmp}/$P.baseline
FABRIC=$P-fabric

if [[ -e $WORK ]]; then
    echo "$WORK exists: run benchmarks/baseline_cleanup.sh $P first" >&2
    exit 2
fi
mkdir -m 0700 "$WORK"

# Record each namespace before creating it, so the cleanup script finds it after any failure.
new_netns() {
    echo "$1" >>"$WORK/netns"
    ip netns add "$1"
}

new_netns "$FABRIC"
ip -n "$FABRIC" link add br0 type bridge
ip -n "$FABRIC" link set br0 up

for i in $(seq 1 "$N"); do
    ns=$P-hv$i
    d=$WORK/hv$i
    addr=198.18.$(((i + 10) / 256)).$(((i + 10) % 256))
    mkdir "$d"
    new_netns "$ns"
    ip -n "$FABRIC" link add "hv$i" type veth peer name eth0 netns "$ns"
    ip -n "$FABRIC" link set "hv$i" master br0 up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$addr/16" dev eth0
    ip -n "$ns" link set eth0 up

    env=(env "OVS_RUNDIR=$d" "OVS_LOGDIR=$d" "OVS_DBDIR=$d" "OVS_SYSCONFDIR=$d"
        "OVN_RUNDIR=$d" "OVN_LOGDIR=$d" "OVN_DBDIR=$d" "OVN_SYSCONFDIR=$d")
    run=(ip netns exec "$ns" "${env[@]}")
    db=unix:$d/db.sock

    ovsdb-tool create "$d/conf.db" /usr/share/openvswitch/vswitch.ovsschema
    "${run[@]}" ovsdb-server "$d/conf.db" --remote="punix:$d/db.sock" \
        --pidfile="$d/ovsdb-server.pid" -vconsole:off --log-file="$d/ovsdb-server.log" --detach
    "${run[@]}" ovs-vsctl --db="$db" --no-wait init \
        -- add-br br-int \
        -- set Bridge br-int datapath_type=netdev fail_mode=secure \
        -- set Open_vSwitch . \
        external_ids:system-id="hv$i" \
        external_ids:hostname="hv$i" \
        external_ids:ovn-encap-type=geneve \
        external_ids:ovn-encap-ip="$addr" \
        external_ids:ovn-remote=tcp:198.18.0.1:6642 \
        external_ids:ovn-bridge-datapath-type=netdev
    "${run[@]}" ovs-vswitchd "$db" \
        --pidfile="$d/ovs-vswitchd.pid" -vconsole:off --log-file="$d/ovs-vswitchd.log" --detach
    "${run[@]}" ovn-controller "$db" \
        --pidfile="$d/ovn-controller.pid" -vconsole:off --log-file="$d/ovn-controller.log" --detach
done
echo "$N chassis up: namespaces $P-hv1..$P-hv$N, state in $WORK" >&2
