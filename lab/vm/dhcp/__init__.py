"""Addresses handed out the way clouds do: the lab's DHCPv4/DHCPv6 client and RA watcher
(client, run inside VM namespaces), its wire formats (proto4, proto6), and the host side
that starts it and waits for every VM's addresses (control)."""
