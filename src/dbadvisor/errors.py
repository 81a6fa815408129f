"""One root exception, so callers (the CLI above all) can catch everything dbadvisor raises on purpose.

Anything that is not a ``DbAdvisorError`` is a bug and deserves its traceback.
"""


class DbAdvisorError(Exception):
    """Root of every error dbadvisor raises deliberately; its message is fit for the end user."""


class UsageError(DbAdvisorError):
    """The user asked for something that cannot be done (unknown check id, bad option value)."""


class ConnectError(DbAdvisorError):
    """The database could not be reached or refused us; the message never carries a password."""


class CollectError(DbAdvisorError):
    """A catalog or workload query failed in a way that leaves nothing usable."""


class ClusterError(DbAdvisorError):
    """A private PostgreSQL cluster (demo, tests, scratch) could not be created or started."""


class ApplyError(DbAdvisorError):
    """An action could not be applied; what was done before it stays done and recorded."""


class StaleReport(ApplyError):
    """The database no longer holds the object the report described; nothing was done."""
