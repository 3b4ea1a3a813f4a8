"""Pure rules of the fleet and the contract: standard library (and a sun-position library) only, no I/O."""
