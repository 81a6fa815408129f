"""Benchmarks: they print figures; they are not pass/fail tests."""
