#!/bin/bash
# The peer's way on docker, as ovn-fake-multinode brings up its fake chassis: one
# `docker run` per node, one after the other, then one `docker exec` per daemon start and
# per configuration command. N bare OVN chassis (no logical network, no VMs) registering
# with a central container, the counterpart of baseline_serial.sh on namespaces.
# benchmarks/docker_vs_netns.py --peer N times it next to `lab up`.
#
#   benchmarks/baseline_docker_serial.sh N PREFIX [IMAGE]   # then: ... --cleanup PREFIX
#
# Everything it makes is named PREFIX-... and labelled ovn-lab-baseline=PREFIX: containers
# PREFIX-central and PREFIX-hv1..N (--network none, the capabilities a node needs, not
# --privileged), a namespace PREFIX-fabric holding a Linux bridge (the wire), each
# container's eth0 a veth made inside the fabric namespace and the container's, so nothing
# appears in the host's namespace. Chassis i gets 198.18.x.y/16; ovn-remote points at the
# central's 198.18.0.1:6642. IMAGE: an ovn-lab node image (default: the one `lab up
# --provider docker` uses for build: host).
set -euo pipefail

LABEL=ovn-lab-baseline

if [[ ${1:-} == --cleanup ]]; then
    if [[ $# -ne 2 || ! $2 =~ ^[a-z][a-z0-9-]{0,7}$ ]]; then
        echo "usage: $0 --cleanup PREFIX" >&2
        exit 2
    fi
    mapfile -t ids < <(docker ps -aq --filter "label=$LABEL=$2")
    if ((${#ids[@]})); then docker rm -f "${ids[@]}" >/dev/null; fi
    if [[ -e /run/netns/$2-fabric ]]; then ip netns delete "$2-fabric"; fi
    exit 0
fi

if [[ $# -lt 2 || $# -gt 3 || ! $1 =~ ^[1-9][0-9]*$ || ! $2 =~ ^[a-z][a-z0-9-]{0,7}$ ]]; then
    echo "usage: $0 N PREFIX [IMAGE]   (N >= 1; PREFIX: lowercase, at most 8 characters)" >&2
    exit 2
fi
N=$1
P=$2
IMAGE=${3:-$(docker images --format '{{.Repository}}:{{.Tag}}' ovn-lab/node | grep -m1 \
    "$(ovs-vswitchd --version | awk 'NR==1 {print $NF}')-$(ovn-controller --version |
        awk 'NR==1 {print $NF}')$" || true)}
if [[ -z $IMAGE ]]; then
    echo "no ovn-lab/node image of the host's OVS/OVN: bring a docker lab up once" >&2
    exit 2
fi
FABRIC=$P-fabric
if [[ -e /run/netns/$FABRIC ]] || [[ -n $(docker ps -aq --filter "label=$LABEL=$P") ]]; then
    echo "$P is in use: run $0 --cleanup $P first" >&2
    exit 2
fi
ip netns add "$FABRIC"
ip -n "$FABRIC" link add br0 type bridge
ip -n "$FABRIC" link set br0 up

# a container on the fabric at ADDR/16: docker run, then its eth0 joined to br0
node() {
    local name=$1 port=$2 addr=$3 pid
    docker run -d --name "$name" --hostname "${name#"$P"-}" --label "$LABEL=$P" \
        --network none --cap-add NET_ADMIN --cap-add SYS_ADMIN --cap-add SYS_NICE \
        --device /dev/net/tun "$IMAGE" sleep infinity >/dev/null
    pid=$(docker inspect -f '{{.State.Pid}}' "$name")
    ip -n "$FABRIC" link add "$port" type veth peer name eth0 netns "$pid"
    ip -n "$FABRIC" link set "$port" master br0 up
    docker exec "$name" ip link set lo up
    docker exec "$name" ip addr add "$addr/16" dev eth0
    docker exec "$name" ip link set eth0 up
}

node "$P-central" central 198.18.0.1
c=(docker exec "$P-central")
"${c[@]}" mkdir -p /run/ovn /run/openvswitch
"${c[@]}" ovsdb-tool create /run/ovn/nb.db /usr/share/ovn/ovn-nb.ovsschema
"${c[@]}" ovsdb-tool create /run/ovn/sb.db /usr/share/ovn/ovn-sb.ovsschema
"${c[@]}" ovsdb-server /run/ovn/nb.db --remote=punix:/run/ovn/nb.sock \
    --pidfile=/run/ovn/nb.pid --log-file=/run/ovn/nb.log -vconsole:off --detach
"${c[@]}" ovsdb-server /run/ovn/sb.db --remote=punix:/run/ovn/sb.sock \
    --remote=ptcp:6642:198.18.0.1 --pidfile=/run/ovn/sb.pid --log-file=/run/ovn/sb.log -vconsole:off --detach
"${c[@]}" ovn-northd --ovnnb-db=unix:/run/ovn/nb.sock --ovnsb-db=unix:/run/ovn/sb.sock \
    --pidfile=/run/ovn/northd.pid --log-file=/run/ovn/northd.log -vconsole:off --detach

for i in $(seq 1 "$N"); do
    addr=198.18.$(((i + 10) / 256)).$(((i + 10) % 256))
    node "$P-hv$i" "hv$i" "$addr"
    x=(docker exec "$P-hv$i")
    "${x[@]}" mkdir -p /run/openvswitch /run/ovn /etc/openvswitch
    "${x[@]}" ovsdb-tool create /etc/openvswitch/conf.db \
        /usr/share/openvswitch/vswitch.ovsschema
    "${x[@]}" ovsdb-server /etc/openvswitch/conf.db \
        --remote=punix:/run/openvswitch/db.sock --pidfile --log-file -vconsole:off --detach
    "${x[@]}" ovs-vsctl --no-wait init
    "${x[@]}" ovs-vsctl --no-wait add-br br-int \
        -- set Bridge br-int datapath_type=netdev fail_mode=secure
    "${x[@]}" ovs-vsctl --no-wait set Open_vSwitch . \
        external_ids:system-id="hv$i" external_ids:hostname="hv$i" \
        external_ids:ovn-encap-type=geneve external_ids:ovn-encap-ip="$addr" \
        external_ids:ovn-remote=tcp:198.18.0.1:6642 \
        external_ids:ovn-bridge-datapath-type=netdev
    "${x[@]}" ovs-vswitchd --pidfile --log-file -vconsole:off --detach
    "${x[@]}" ovn-controller --pidfile --log-file -vconsole:off --detach
done
echo "$N chassis up in containers $P-*, fabric namespace $FABRIC" >&2
