"""Checks: small units that turn a snapshot into findings. See ``base`` for the contract and
``registry`` for the list."""

from dbadvisor.checks.base import Check, Context

__all__ = ["Check", "Context"]
