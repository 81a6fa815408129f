"""The SQL pieces of a table rebuild (partitioned by RANGE on a time column, or plain again), shared by the
migration rendering (``render``) and the online conversion (``online_rebuild``), so that both make the very
same table.

Every name reaches SQL as a ``psycopg.sql.Identifier``, or, inside a DO block, as a literal that PL/pgSQL
quotes again with ``format('%I')``; the DO block's dollar quote is chosen so that no name can close it.
"""

from __future__ import annotations

from psycopg import sql

from dbadvisor.model.ddl import RebuildTable, side_name
from dbadvisor.model.timeseries import partition_name

# What carries over from the table to its rebuild through LIKE. Indexes do not (the primary key changes,
# and a partitioned table's unique keys must hold the partition key); they are recreated from definitions.
LIKE_OPTIONS = ("INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING IDENTITY "
                "INCLUDING STORAGE INCLUDING COMMENTS INCLUDING STATISTICS")
_UNIT = {"1 day": "day", "1 week": "week", "1 month": "month"}
_FORMAT = {"1 day": '"p"YYYY_MM_DD', "1 week": '"p"IYYY"w"IW', "1 month": '"p"YYYY_MM'}
_SUFFIX_BYTES = {"1 day": 11, "1 week": 8, "1 month": 8}


def ident(*parts: str) -> str:
    return sql.Identifier(*parts).as_string()


def lit(value: object) -> str:
    return sql.Literal(value).as_string()


def do_block(body: str) -> str:
    """``DO $tag$ body $tag$;`` with a tag that does not occur in the body."""
    tag = "$dbadvisor$"
    while tag in body:
        tag = tag[:-1] + "x$"
    return f"DO {tag}\n{body}\n{tag};"


def create_like(op: RebuildTable, name: str, source: str, partitioned: bool) -> str:
    text = f"CREATE TABLE {ident(op.schema, name)} (LIKE {ident(op.schema, source)} {LIKE_OPTIONS})"
    return text + (f" PARTITION BY RANGE ({ident(op.column)});" if partitioned else ";")


def default_partition(op: RebuildTable, parent: str) -> str:
    return (f"CREATE TABLE IF NOT EXISTS {ident(op.schema, partition_name(op.table, 'default'))} "
            f"PARTITION OF {ident(op.schema, parent)} DEFAULT;")


_ENSURE = """DECLARE
  lower date := date_trunc({unit}, {start}::date)::date;
  upto date := (date_trunc({unit}, now()) + {premake} * interval {interval})::date;
  child text;
BEGIN
  WHILE lower <= upto LOOP
    child := {prefix} || to_char(lower, {fmt});
    IF to_regclass(format('%I.%I', {schema}, child)) IS NULL THEN
      EXECUTE format('CREATE TABLE %I.%I PARTITION OF %I.%I FOR VALUES FROM (%L) TO (%L)',
                     {schema}, child, {schema}, {parent}, lower, (lower + interval {interval})::date);
    END IF;
    lower := (lower + interval {interval})::date;
  END LOOP;
END"""


def ensure_partitions(schema: str, table: str, parent: str, interval: str, start: str, premake: int) -> str:
    """A DO block that makes every missing partition from ``start`` until ``premake`` intervals past the
    current one, named as pg_partman names them (``events_p2026_11``), so that it can run again (from a
    migration, pg_cron or ``dbadvisor maintain``) and adopt what exists."""
    suffix = _SUFFIX_BYTES[interval]
    body = sql.SQL(_ENSURE).format(
        unit=sql.Literal(_UNIT[interval]), start=sql.Literal(start), premake=sql.Literal(int(premake)),
        interval=sql.Literal(interval), prefix=sql.Literal(partition_name(table, "x" * suffix)[:-suffix]),
        fmt=sql.Literal(_FORMAT[interval]), schema=sql.Literal(schema), parent=sql.Literal(parent))
    return do_block(body.as_string())


_CARRY_OVER = """DECLARE
  r record;
  seq text;
  fresh text;
  old_owner oid := (SELECT relowner FROM pg_class WHERE oid = {o}::regclass);
BEGIN
  FOR r IN SELECT a.attname, a.attidentity FROM pg_attribute a
           WHERE a.attrelid = {o}::regclass AND a.attnum > 0 AND NOT a.attisdropped LOOP
    seq := pg_get_serial_sequence({o}, r.attname);
    CONTINUE WHEN seq IS NULL;
    IF r.attidentity <> '' THEN
      fresh := pg_get_serial_sequence({n}, r.attname);
      IF fresh IS NOT NULL THEN
        EXECUTE format('SELECT setval(%L::regclass, s.last_value, s.is_called) FROM %s s', fresh, seq);
      END IF;
    ELSE
      EXECUTE format('ALTER SEQUENCE %s OWNED BY %s.%I', seq, {n}, r.attname);
    END IF;
  END LOOP;
  FOR r IN SELECT (aclexplode(c.relacl)).* FROM pg_class c WHERE c.oid = {o}::regclass LOOP
    CONTINUE WHEN r.grantee = old_owner;
    EXECUTE format('GRANT %s ON %s TO %s', r.privilege_type, {n},
                   CASE WHEN r.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(r.grantee)) END);
  END LOOP;
  IF old_owner <> (SELECT relowner FROM pg_class WHERE oid = {n}::regclass) THEN
    EXECUTE format('ALTER TABLE %s OWNER TO %I', {n}, pg_get_userbyid(old_owner));
  END IF;
  IF obj_description({o}::regclass, 'pg_class') IS NOT NULL THEN
    EXECUTE format('COMMENT ON TABLE %s IS %L', {n}, obj_description({o}::regclass, 'pg_class'));
  END IF;
END"""


def carry_over(schema: str, old: str, new: str) -> str:
    """A DO block moving what LIKE does not copy from ``old`` to ``new``: serial sequences (their
    ownership, so that dropping the old table keeps them), identity values (the new identity continues
    where the old one stopped), grants, the owner and the table's comment."""
    body = sql.SQL(_CARRY_OVER).format(o=sql.Literal(ident(schema, old)), n=sql.Literal(ident(schema, new)))
    return do_block(body.as_string())


def copy_rows(op: RebuildTable, target: str, source: str, source_partitioned: bool) -> str:
    cols = sql.SQL(", ").join(map(sql.Identifier, op.copy_columns))
    only = sql.SQL("" if source_partitioned else "ONLY ")
    return sql.SQL("INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE SELECT {} FROM {}{};").format(
        sql.Identifier(op.schema, target), cols, cols, only, sql.Identifier(op.schema, source)).as_string()


def primary_key(op: RebuildTable, table: str, constraint: str | None = None) -> str:
    return (f"ALTER TABLE {ident(op.schema, table)} ADD CONSTRAINT {ident(constraint or op.constraint)} "
            f"PRIMARY KEY ({', '.join(ident(c) for c in op.primary_key)});")


def foreign_keys(op: RebuildTable, table: str) -> list[str]:
    out = []
    for fk in op.foreign_keys:
        name, definition = fk.split(" ", 1)
        out.append(f"ALTER TABLE {ident(op.schema, table)} ADD CONSTRAINT {ident(name)} {definition};")
    return out


# The policies ``dbadvisor maintain`` carries out, kept in the target so that a cron job needs nothing
# else (store schemas: public, changed only with a CHANGELOG entry).
POLICY_SCHEMA = "CREATE SCHEMA IF NOT EXISTS dbadvisor;"
RETENTION_TABLE = ("CREATE TABLE IF NOT EXISTS dbadvisor.retention (schema_name text NOT NULL, "
                   "table_name text NOT NULL, column_name text NOT NULL, keep interval NOT NULL, method text NOT NULL, "
                   "batch_rows integer NOT NULL, set_at timestamptz NOT NULL DEFAULT now(), "
                   "PRIMARY KEY (schema_name, table_name));")
PARTITIONING_TABLE = ("CREATE TABLE IF NOT EXISTS dbadvisor.partitioning (schema_name text NOT NULL, "
                      "table_name text NOT NULL, column_name text NOT NULL, \"interval\" text NOT NULL, "
                      "premake integer NOT NULL, start date NOT NULL, set_at timestamptz NOT NULL DEFAULT now(), "
                      "PRIMARY KEY (schema_name, table_name));")


def register(op: RebuildTable) -> list[str]:
    """Statements that record the partitioned table for ``dbadvisor maintain`` (partitions ahead)."""
    values = sql.SQL(", ").join(map(sql.Literal, (op.schema, op.table, op.column, op.interval, op.premake, op.start)))
    upsert = sql.SQL("INSERT INTO dbadvisor.partitioning (schema_name, table_name, column_name, \"interval\", premake, "
                     "start) VALUES ({}) ON CONFLICT (schema_name, table_name) DO UPDATE SET column_name = "
                     "EXCLUDED.column_name, \"interval\" = EXCLUDED.\"interval\", premake = EXCLUDED.premake, "
                     "start = EXCLUDED.start, set_at = now();").format(values).as_string()
    return [POLICY_SCHEMA, PARTITIONING_TABLE, upsert]


def forget(policy: str, schema: str, table: str) -> str:
    """A statement removing the table's row from ``dbadvisor.<policy>``, when that store exists."""
    body = sql.SQL("BEGIN\n  IF to_regclass({store}) IS NOT NULL THEN\n    DELETE FROM {table} WHERE schema_name = {s} "
                   "AND table_name = {t};\n  END IF;\nEND").format(
        store=sql.Literal(f"dbadvisor.{policy}"), table=sql.Identifier("dbadvisor", policy), s=sql.Literal(schema),
        t=sql.Literal(table))
    return do_block(body.as_string())


PARTMAN_INTERVAL = {"1 day": "daily", "1 week": "weekly", "1 month": "monthly"}


def adopt(op: RebuildTable) -> list[str]:
    """pg_partman takes the partitioned table over: it adopts the partitions (they carry its names). It
    makes its own default partition only when it had partitions to make, so ours is set aside for the
    call and then either put back, or (when it made one) emptied into the table and dropped."""
    assert op.partman_schema is not None
    default = partition_name(op.table, "default")
    aside = side_name(default, "old")
    call = sql.SQL("SELECT {}.create_parent(p_parent_table := {}, p_control := {}, p_type := 'native', "
                   "p_interval := {}, p_premake := {}, p_start_partition := {});").format(
        sql.Identifier(op.partman_schema), sql.Literal(f"{op.schema}.{op.table}"), sql.Literal(op.column),
        sql.Literal(PARTMAN_INTERVAL[op.interval]), sql.Literal(op.premake), sql.Literal(op.start)).as_string()
    settle = sql.SQL("""BEGIN
  IF to_regclass({default_name}) IS NULL THEN
    ALTER TABLE {aside} RENAME TO {default_bare};
    ALTER TABLE {parent} ATTACH PARTITION {default} DEFAULT;
  ELSE
    {copy}
    DROP TABLE {aside};
  END IF;
END""").format(default_name=sql.Literal(ident(op.schema, default)), aside=sql.Identifier(op.schema, aside),
               default_bare=sql.Identifier(default), parent=sql.Identifier(op.schema, op.table),
               default=sql.Identifier(op.schema, default), copy=sql.SQL(copy_rows(op, op.table, aside, False)))
    return [f"ALTER TABLE {ident(op.schema, op.table)} DETACH PARTITION {ident(op.schema, default)};",
            f"ALTER TABLE {ident(op.schema, default)} RENAME TO {ident(aside)};",
            call,
            do_block(settle.as_string())]


def unadopt(op: RebuildTable) -> str:
    """pg_partman lets the table go: its configuration row and template table are removed."""
    assert op.partman_schema is not None
    body = sql.SQL("""DECLARE
  template text := (SELECT template_table FROM {config} WHERE parent_table = {parent});
BEGIN
  DELETE FROM {config} WHERE parent_table = {parent};
  IF template IS NOT NULL THEN
    EXECUTE format('DROP TABLE IF EXISTS %s', template);
  END IF;
END""").format(config=sql.Identifier(op.partman_schema, "part_config"),
               parent=sql.Literal(f"{op.schema}.{op.table}"))
    return do_block(body.as_string())


def partman_retention(partman_schema: str, schema: str, table: str, keep: str | None) -> str:
    """pg_partman's own retention for the table (its maintenance then drops old partitions), or none."""
    return sql.SQL("UPDATE {} SET retention = {}, retention_keep_table = false WHERE parent_table = {};").format(
        sql.Identifier(partman_schema, "part_config"), sql.Literal(keep), sql.Literal(f"{schema}.{table}")).as_string()


def cron_job(op: RebuildTable) -> str:
    return f"dbadvisor partitions {op.schema}.{op.table}"


def schedule(op: RebuildTable) -> str:
    """A pg_cron job keeping partitions ahead (pg_partman's maintenance of the table, or the DO block
    that makes missing partitions), hourly; cron.schedule replaces a job of the same name."""
    if op.partman_schema is not None:
        command = sql.SQL("SELECT {}.run_maintenance({})").format(
            sql.Identifier(op.partman_schema), sql.Literal(f"{op.schema}.{op.table}")).as_string()
    else:
        command = ensure_partitions(op.schema, op.table, op.table, op.interval, op.start, op.premake)
    return sql.SQL("SELECT cron.schedule({}, '@hourly', {});").format(
        sql.Literal(cron_job(op)), sql.Literal(command)).as_string()


def unschedule(op: RebuildTable) -> str:
    body = sql.SQL("BEGIN\n  IF EXISTS (SELECT 1 FROM cron.job WHERE jobname = {job}) THEN\n"
                   "    PERFORM cron.unschedule({job});\n  END IF;\nEND").format(job=sql.Literal(cron_job(op)))
    return do_block(body.as_string())


def keeping(op: RebuildTable) -> list[str]:
    """After a table is partitioned: who keeps its partitions ahead from now on (pg_partman, or
    ``dbadvisor maintain`` through its policy table) and whether pg_cron runs it."""
    out = adopt(op) if op.partman_schema else register(op)
    return out + ([schedule(op)] if op.cron else [])


def letting_go(op: RebuildTable) -> list[str]:
    """Before a table is made plain again: its maintenance is stopped."""
    return ([unschedule(op)] if op.cron else []) + ([unadopt(op)] if op.partman_schema else [])


def offline(op: RebuildTable) -> list[str]:
    """The rebuild as one transaction's statements: the table is locked while its rows are copied."""
    old = side_name(op.table, "old")
    out = [] if op.partitioned else letting_go(op)
    out += [f"LOCK TABLE {ident(op.schema, op.table)} IN ACCESS EXCLUSIVE MODE;",
           f"ALTER TABLE {ident(op.schema, op.table)} RENAME TO {ident(old)};",
           create_like(op, op.table, old, op.partitioned)]
    if op.partitioned:
        out += [default_partition(op, op.table),
                ensure_partitions(op.schema, op.table, op.table, op.interval, op.start, op.premake)]
    out += [copy_rows(op, op.table, old, not op.partitioned),
            carry_over(op.schema, old, op.table),
            f"DROP TABLE {ident(op.schema, old)};",
            primary_key(op, op.table)]
    out += [d.rstrip(";") + ";" for d in op.indexes]
    out += foreign_keys(op, op.table)
    out.append(f"ANALYZE {ident(op.schema, op.table)};")
    return out + (keeping(op) if op.partitioned else [forget("partitioning", op.schema, op.table)])
