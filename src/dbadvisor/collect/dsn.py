"""DSN handling: parse a URI or keyword DSN, and show it without its password.

Parsing is libpq's (through psycopg), so every form libpq accepts works, and PG* environment variables
fill in whatever the DSN leaves out when the connection is made.
"""

from __future__ import annotations

import re

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from dbadvisor.errors import UsageError

_URI_PASSWORD = re.compile(r"(postgres(?:ql)?://[^:/@?#]*:)([^@/?#]*)(@)")
_KW_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_QUERY_PASSWORD = re.compile(r"([?&]password=)([^&#]*)", re.IGNORECASE)
MASK = "***"


def parse(dsn: str) -> dict[str, str]:
    """Split a DSN into libpq keywords; a malformed DSN is a usage error whose message hides secrets."""
    try:
        return {k: str(v) for k, v in conninfo_to_dict(dsn).items()}
    except Exception as exc:  # psycopg raises ProgrammingError with libpq's text, which may echo the DSN
        raise UsageError(f"invalid DSN {redact(dsn)!r}: {scrub(str(exc), dsn)}") from None


def redact(dsn: str) -> str:
    """The DSN as it may be printed: any password replaced by ***."""
    try:
        params = conninfo_to_dict(dsn)
    except Exception:
        params = None
    if params is not None and "password" in params and not dsn.startswith(("postgres://", "postgresql://")):
        params["password"] = MASK
        return make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})
    out = _URI_PASSWORD.sub(rf"\g<1>{MASK}\g<3>", dsn)
    out = _QUERY_PASSWORD.sub(rf"\g<1>{MASK}", out)
    return _KW_PASSWORD.sub(rf"\g<1>{MASK}", out)


def scrub(message: str, dsn: str) -> str:
    """Remove the DSN's password (if any) from a message that may have echoed it, e.g. a driver error."""
    try:
        password = conninfo_to_dict(dsn).get("password")
    except Exception:
        password = None
    if password:
        message = message.replace(str(password), MASK)
    return redact(message)


def describe(dsn: str) -> str:
    """A short label for a target, for summaries: user@host:port/dbname, no password."""
    try:
        p = conninfo_to_dict(dsn)
    except Exception:
        return redact(dsn)
    host = str(p.get("host") or "local socket")
    port = f":{p['port']}" if p.get("port") else ""
    user = f"{p['user']}@" if p.get("user") else ""
    return f"{user}{host}{port}/{p.get('dbname', '')}"
