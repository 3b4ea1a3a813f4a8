"""Probes: one attempt at a device within a timeout, returning a typed result. Import nothing from fleetops."""
