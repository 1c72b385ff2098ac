"""The physical fabric on this machine: bridges and the ToR in the lab's fabric namespace, veths
to every node (pyroute2, inside namespaces only), and the NFQUEUE delayer of `lab impair`."""
