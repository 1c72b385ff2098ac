"""Provider ssh: every node is an SSH host provisioned by `lab provision`, its own OVS/OVN
services the node's daemons; VMs are namespaces on the chassis hosts.

The package, by job: transport (inventory, one paramiko connection per host), session (a
lab's connections in this process), tunnel (the central's databases forwarded to local unix
sockets), place (which host is which node, before planning), build (`lab up` on the hosts),
health (`lab status`), teardown (`lab down`), probe (what a host has now), record (what the
lab keeps about its hosts), tls (`ssl: true`: the lab's PKI on the hosts), services (the VM
agent there), testinfra (the `labssh://` backend) and provision (`lab provision`'s
playbooks).
"""
