"""A local multi-node deployment for tests and trials: a clustered broker,
etcd and PostgreSQL under Patroni, run from Debian's packages on loopback
ports under a state directory (as anju/embedded.py runs the single node)."""
