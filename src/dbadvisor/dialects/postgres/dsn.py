"""DSN handling: parse a URI or keyword DSN, and show it without its password.

Parsing is libpq's (through psycopg), so every form libpq accepts works, and PG* environment variables
fill in whatever the DSN leaves out when the connection is made.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from dbadvisor.errors import UsageError

_URI_PASSWORD = re.compile(r"(postgres(?:ql)?://[^:/@?#]*:)([^@/?#]*)(@)")
_KW_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_QUERY_PASSWORD = re.compile(r"([?&]password=)([^&#]*)", re.IGNORECASE)
MASK = "***"


def parse(dsn: str) -> dict[str, str]:
    """Split a DSN into libpq keywords; a malformed DSN is a usage error that echoes none of it."""
    if dsn.startswith(("postgres://", "postgresql://")):
        authority = dsn.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0]
        if authority.count("@") > 1:
            raise UsageError("invalid DSN: more than one '@' before the host; a '@' in a URI user name or "
                             "password must be percent-encoded as %40")
    try:
        return {k: str(v) for k, v in conninfo_to_dict(dsn).items()}
    except Exception as exc:  # libpq's text quotes pieces of the DSN, which may be the password
        message = _QUOTED.sub('"***"', str(exc).strip().splitlines()[0] if str(exc).strip() else "")
        raise UsageError(f"invalid DSN ({message or 'cannot be parsed'}); give a URI or key=value pairs, "
                         "with '@', ':', '/' in a URI password percent-encoded") from None


_QUOTED = re.compile(r'"[^"]*"')


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
    """A message that may have echoed the DSN (a driver error), fit to print: the DSN itself and every
    password field in it are redacted. Passwords are redacted as fields, never by searching the message
    for their letters (masking each occurrence of a short password's text would reveal it by elimination)."""
    if dsn and dsn in message:
        message = message.replace(dsn, redact(dsn))
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


def sqlalchemy_url(dsn: str) -> str:
    """The DSN as a SQLAlchemy URL for the psycopg driver (Alembic, ``create_all``): every libpq keyword,
    password included, goes through as a query parameter, percent-encoded."""
    params = {k: str(v) for k, v in conninfo_to_dict(dsn).items() if v is not None}
    db = params.pop("dbname", "")
    return f"postgresql+psycopg:///{quote(db, safe='')}?{urlencode(params)}"
