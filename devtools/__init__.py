"""Tooling around anju, never imported by the services: the benchmarks (`anju bench …`),
the evaluation against simulated and recorded homes (`anju eval`), local notification
sinks for tests and benchmarks, and the demo (`anju demo`)."""
