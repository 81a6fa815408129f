"""A Prisma schema as a source: Prisma's own parser reads it, and its datamodel becomes the DDL that
``prisma migrate`` would create on PostgreSQL, built in a shadow database.

Why a maintained parser from npm rather than one written here: the Prisma schema language has no Python
parser on PyPI, and its rules (relations, implicit many-to-many tables, ``@map``/``@@map``, native types,
validation errors) are Prisma's to define. ``@prisma/prisma-schema-wasm`` is the WebAssembly build of
Prisma's own schema engine front end (prisma-fmt): it runs offline under Node.js and returns the
datamodel (DMMF). The translation to DDL follows Prisma's PostgreSQL connector: its default types
(``String`` is ``text``, ``DateTime`` is ``timestamp(3)``, ``Decimal`` is ``decimal(65,30)``), native types
(``@db.VarChar(255)``), ``autoincrement()`` as serial, ``now()`` as ``CURRENT_TIMESTAMP``, client-side
defaults (``cuid()``, ``uuid()``, ``@updatedAt``) left out, and its default referential actions
(``ON DELETE RESTRICT``, or ``SET NULL`` for an optional relation, ``ON UPDATE CASCADE``).

Node.js and the package are found as ``sources.node`` says; without them a Prisma source is a clear
usage error.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dbadvisor.dialects.postgres.render import DIALECT
from dbadvisor.errors import UsageError
from dbadvisor.sources import Opened, Progress
from dbadvisor.sources.node import require, run
from dbadvisor.sources.shadow import built_schema, run_ddl

PACKAGE = "@prisma/prisma-schema-wasm"
SCRIPT = Path(__file__).with_name("prisma_dmmf.js")
SCALARS = {"String": "text", "Boolean": "boolean", "Int": "integer", "BigInt": "bigint",
           "Float": "double precision", "Decimal": "decimal(65,30)", "DateTime": "timestamp(3)",
           "Json": "jsonb", "Bytes": "bytea"}
NATIVE = {"VarChar": "varchar", "Char": "char", "Text": "text", "Uuid": "uuid", "SmallInt": "smallint",
          "Integer": "integer", "BigInt": "bigint", "Real": "real", "DoublePrecision": "double precision",
          "Decimal": "decimal", "Money": "money", "Timestamp": "timestamp", "Timestamptz": "timestamptz",
          "Date": "date", "Time": "time", "Timetz": "timetz", "Boolean": "boolean", "Bit": "bit",
          "VarBit": "varbit", "Inet": "inet", "Citext": "citext", "Xml": "xml", "Json": "json", "JsonB": "jsonb",
          "ByteA": "bytea", "Oid": "oid"}
CLIENT_SIDE = frozenset({"cuid", "uuid", "nanoid", "ulid"})
ACTIONS = {"Cascade": "CASCADE", "Restrict": "RESTRICT", "NoAction": "NO ACTION", "SetNull": "SET NULL",
           "SetDefault": "SET DEFAULT"}


def datamodel(schema: str) -> dict[str, Any]:
    """The DMMF datamodel of a Prisma schema, from Prisma's own parser."""
    node, modules = require(PACKAGE, "prisma: reading a Prisma schema")
    done = run([node, str(SCRIPT)], modules, stdin=schema)
    if done.returncode != 0:
        first = next((line.strip() for line in done.stderr.splitlines() if line.strip()), "unknown error")
        raise UsageError(f"prisma: the schema is not valid: {first}")
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def _type(field: Mapping[str, Any], enums: Mapping[str, str]) -> str:
    native = field.get("nativeType")
    if native:
        name, args = native[0], native[1]
        base = NATIVE.get(name, name.lower())
        out = f"{base}({','.join(args)})" if args else base
    elif field["kind"] == "enum":
        out = DIALECT.quote(enums[field["type"]])
    else:
        out = SCALARS.get(field["type"], "text")
    return out + ("[]" if field.get("isList") else "")


def _default(field: Mapping[str, Any]) -> str | None:
    if field.get("isUpdatedAt") or "default" not in field:
        return None
    value = field["default"]
    if isinstance(value, dict):
        name, args = value.get("name"), value.get("args") or []
        if name == "now":
            return "CURRENT_TIMESTAMP"
        if name == "dbgenerated" and args:
            return str(args[0])
        return None  # autoincrement (a serial type), or a client-side generator
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if field.get("type") in ("Int", "BigInt", "Float", "Decimal") and re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", str(value)):
        return str(value)  # BigInt and Decimal defaults come as text; Prisma writes them as numbers
    if isinstance(value, list):
        return DIALECT.literal("{" + ",".join(str(v) for v in value) + "}")
    return DIALECT.literal(str(value))


def ddl(model: Mapping[str, Any]) -> list[str]:
    """The statements Prisma's PostgreSQL connector would create for a datamodel (DMMF)."""
    enums = {e["name"]: e.get("dbName") or e["name"] for e in model.get("enums", ())}
    tables = {m["name"]: m for m in model.get("models", ())}

    def table(m: Mapping[str, Any]) -> str:
        return DIALECT.quote(m.get("schema") or "public", m.get("dbName") or m["name"])

    def column(m: Mapping[str, Any], field_name: str) -> str:
        f = next(f for f in m["fields"] if f["name"] == field_name)
        return DIALECT.quote(f.get("dbName") or f["name"])

    out = []
    for e in model.get("enums", ()):
        values = ", ".join(DIALECT.literal(v.get("dbName") or v["name"]) for v in e["values"])
        out.append(f"CREATE TYPE {DIALECT.quote(enums[e['name']])} AS ENUM ({values})")
    fks = []
    for m in tables.values():
        cols, pk = [], [f["name"] for f in m["fields"] if f.get("isId")]
        if m.get("primaryKey"):
            pk = list(m["primaryKey"]["fields"])
        for f in m["fields"]:
            if f["kind"] == "object":
                if f.get("relationFromFields"):
                    target = tables[f["type"]]
                    optional = any(not next(x for x in m["fields"] if x["name"] == n)["isRequired"]
                                   for n in f["relationFromFields"])
                    on_delete = ACTIONS.get(f.get("relationOnDelete") or ("SetNull" if optional else "Restrict"))
                    on_update = ACTIONS.get(f.get("relationOnUpdate") or "Cascade")
                    source = ", ".join(column(m, n) for n in f["relationFromFields"])
                    refs = ", ".join(column(target, n) for n in f["relationToFields"])
                    fks.append(f"ALTER TABLE {table(m)} ADD FOREIGN KEY ({source}) REFERENCES {table(target)} "
                               f"({refs}) ON DELETE {on_delete} ON UPDATE {on_update}")
                continue
            auto = isinstance(f.get("default"), dict) and f["default"].get("name") == "autoincrement"
            kind = ("bigserial" if f["type"] == "BigInt" else "serial") if auto else _type(f, enums)
            default = _default(f)
            cols.append(f"{DIALECT.quote(f.get('dbName') or f['name'])} {kind}"
                        + (" NOT NULL" if (f.get("isRequired") and not f.get("isList")) or f.get("isId") else "")
                        + (f" DEFAULT {default}" if default is not None else ""))
        if pk:
            cols.append(f"PRIMARY KEY ({', '.join(column(m, n) for n in pk)})")
        out.append(f"CREATE TABLE {table(m)} ({', '.join(cols)})")
    for idx in model.get("indexes", ()):
        if idx["type"] not in ("unique", "normal"):
            continue
        m = tables[idx["model"]]
        keys = ", ".join(column(m, k["name"]) + (" DESC" if k.get("sortOrder") == "desc" else "")
                         for k in idx["fields"])
        out.append(f"CREATE {'UNIQUE ' if idx['type'] == 'unique' else ''}INDEX ON {table(m)} ({keys})")
    for m in tables.values():  # implicit many-to-many: a join table "_<relation>" with columns A and B
        for f in m["fields"]:
            if f["kind"] != "object" or not f.get("isList"):
                continue
            other = tables[f["type"]]
            back = next((g for g in other["fields"] if g.get("relationName") == f.get("relationName")
                         and g is not f), None)
            if back is None or not back.get("isList") or m["name"] > other["name"]:
                continue
            join = DIALECT.quote("public", f"_{f['relationName']}")
            a_pk = next(x for x in m["fields"] if x.get("isId"))
            b_pk = next(x for x in other["fields"] if x.get("isId"))
            out.append(f"CREATE TABLE {join} (\"A\" {_type(a_pk, enums)} NOT NULL REFERENCES {table(m)} ON DELETE "
                       f"CASCADE ON UPDATE CASCADE, \"B\" {_type(b_pk, enums)} NOT NULL REFERENCES {table(other)} "
                       "ON DELETE CASCADE ON UPDATE CASCADE, PRIMARY KEY (\"A\", \"B\"))")
            out.append(f"CREATE INDEX ON {join} (\"B\")")
    return out + fks


@dataclass(frozen=True)
class PrismaSource:
    path: Path
    shadow_dsn: str | None = None

    @property
    def label(self) -> str:
        return f"Prisma schema {self.path.name}"

    @contextlib.contextmanager
    def open(self, progress: Progress | None = None) -> Iterator[Opened]:
        try:
            schema = self.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"prisma:{self.path}: cannot read it ({exc.strerror or exc})") from None
        statements = ddl(datamodel(schema))
        yield Opened(built_schema(self.label, lambda dsn: run_ddl(dsn, statements, self.label), self.shadow_dsn,
                                  progress))
