"""Use cases: take a Session and primitives, apply the domain rules, write, and audit."""
