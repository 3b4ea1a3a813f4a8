"""The simulated fleet: real SNMP agents and real ICMP on loopback for every device, with fault injection."""
