"""Collect: connect read-only, ask what the server can do, and snapshot its catalog and workload."""
