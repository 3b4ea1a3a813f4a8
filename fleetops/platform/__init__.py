"""Shared infrastructure every area uses: events, contract parameters, audit, idempotency, jobs, clock, i18n.

Sits between the services and the domain: it may use the tables (`fleetops.models`) but knows no area.
"""
