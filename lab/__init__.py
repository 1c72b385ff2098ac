"""ovn-lab: multi-node OVS/OVN labs from one YAML topology, built from real daemons."""

__version__ = "0.1.0"
