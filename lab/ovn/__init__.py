"""OVS/OVN daemons of a node (central, chassis), their databases, remotes and PKI; run through
the NodeRunner the node's provider hands over (lab.runner)."""
