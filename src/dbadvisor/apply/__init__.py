"""Acting on a report: ``apply`` (safe online DDL, re-measured), ``history`` and ``revert``.

Nothing here runs unless the user asked for it with an explicit confirmation (``--yes``).
"""
