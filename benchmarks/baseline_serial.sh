#!/bin/bash
# The naive serial baseline of DESIGN.md ("Platform facts"): bring up N bare OVN chassis
# (no logical network, no VMs), one after the other, the way a shell script written by
# hand would. benchmarks/scale.py times it next to `lab up`.
#
#   benchmarks/baseline_serial.sh N PREFIX [central|none]   # then: baseline_cleanup.sh PREFIX
#
# Everything it makes is named PREFIX-...: namespaces PREFIX-fabric (a Linux bridge, the
# wire), PREFIX-central and PREFIX-hv1..N (each joined to the bridge by a veth made inside
# the two namespaces, so nothing appears in the host's namespace), and one directory per
# node under ${TMPDIR:-/tmp}/PREFIX.baseline/ holding its db, sockets, pidfiles, logs.
# Chassis i gets 198.18.x.y/16 on eth0; ovn-remote points at 198.18.0.1:6642.
#
# central (the default): first a central (NB and SB ovsdb-servers, ovn-northd) answers
# there, and each chassis registers with it, as a bare chassis does. Each new chassis then
# makes every running ovn-controller add a tunnel, which is why the time grows faster than
# N. Measured on a 2-core machine: 7.6 s for 30 chassis (DESIGN.md: 7.7 s) and 46 s for
# 100 (DESIGN.md: 55.8 s).
# none: nothing answers there (controllers keep retrying): 6.2 s for 30, 19-22 s for 100,
# far from DESIGN.md's numbers at 100. Kept to compare with earlier measurements.
set -euo pipefail

if [[ $# -lt 2 || $# -gt 3 || ! $1 =~ ^[1-9][0-9]*$ || ! $2 =~ ^[a-z][a-z0-9-]{0,7}$
    || ! ${3:-central} =~ ^(central|none)$ ]]; then
    echo "usage: $0 N PREFIX [central|none]   (N >= 1; PREFIX: lowercase, at most 8" \
        "characters)" >&2
    exit 2
fi
N=$1
P=$2
CENTRAL=${3:-central}
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

# one namespace on the fabric at ADDR/16, its eth0 a veth whose other end is on br0
wire() {
    local ns=$1 port=$2 addr=$3
    new_netns "$ns"
    ip -n "$FABRIC" link add "$port" type veth peer name eth0 netns "$ns"
    ip -n "$FABRIC" link set "$port" master br0 up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$addr/16" dev eth0
    ip -n "$ns" link set eth0 up
}

if [[ $CENTRAL == central ]]; then
    c=$WORK/central
    mkdir "$c"
    wire "$P-central" central 198.18.0.1
    crun=(ip netns exec "$P-central" env "OVS_RUNDIR=$c" "OVS_LOGDIR=$c" "OVN_RUNDIR=$c"
        "OVN_LOGDIR=$c" "OVN_DBDIR=$c")
    ovsdb-tool create "$c/nb.db" /usr/share/ovn/ovn-nb.ovsschema
    ovsdb-tool create "$c/sb.db" /usr/share/ovn/ovn-sb.ovsschema
    "${crun[@]}" ovsdb-server "$c/nb.db" --remote="punix:$c/nb.sock" \
        --pidfile="$c/nb.pid" -vconsole:off --log-file="$c/nb.log" --detach
    "${crun[@]}" ovsdb-server "$c/sb.db" --remote="punix:$c/sb.sock" \
        --remote=ptcp:6642:198.18.0.1 \
        --pidfile="$c/sb.pid" -vconsole:off --log-file="$c/sb.log" --detach
    "${crun[@]}" ovn-northd --ovnnb-db="unix:$c/nb.sock" --ovnsb-db="unix:$c/sb.sock" \
        --pidfile="$c/northd.pid" -vconsole:off --log-file="$c/northd.log" --detach
fi

for i in $(seq 1 "$N"); do
    ns=$P-hv$i
    d=$WORK/hv$i
    addr=198.18.$(((i + 10) / 256)).$(((i + 10) % 256))
    mkdir "$d"
    wire "$ns" "hv$i" "$addr"

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
echo "$N chassis up (central: $CENTRAL): namespaces $P-*, state in $WORK" >&2
