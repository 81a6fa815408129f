"""Proof on real data: EXPLAIN (ANALYZE, BUFFERS) before and after, on a scratch copy (``verify``) or,
right after ``apply``, on the target itself. Only read-only statements are ever executed."""
