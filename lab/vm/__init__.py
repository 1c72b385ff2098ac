"""What runs inside VMs: the service agent (vm_agent.py), the VM services, the DHCP/RA client."""
