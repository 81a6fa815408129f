"""PostgreSQL catalog queries, by name. Supported servers: 13 and newer.

Each query's output columns are named after the fields of the model object it fills, so rows map
straight into typed objects (see ``dbadvisor.dialects.postgres.rows``). Objects that belong to PostgreSQL itself or
to an extension are left out: they are not the user's to fix.
"""

from __future__ import annotations

from dbadvisor.dialects.queries import QueryRegistry

QUERIES = QueryRegistry()

PG13 = 130000
PG15 = 150000
PG16 = 160000

# Schemas that are never the user's, and relations owned by an extension.
_USER_SCHEMA = """
    n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
    AND n.nspname !~ '^pg_(toast_)?temp_'
"""
_NOT_EXTENSION_MEMBER = """
    NOT EXISTS (SELECT 1 FROM pg_depend dep
                WHERE dep.classid = 'pg_class'::regclass AND dep.objid = c.oid AND dep.deptype = 'e')
"""
_USER_RELATION = f"{_USER_SCHEMA} AND {_NOT_EXTENSION_MEMBER} AND c.relkind IN ('r', 'p', 'm')"
# Relations another session holds (or waits for) in ACCESS EXCLUSIVE mode, passed as %(locked)s: the size
# and deparsing functions (pg_relation_size, pg_get_indexdef, pg_get_expr) would wait for that lock and
# then fail on lock_timeout, so such a table is left out of the snapshot (and listed under skipped).
_LOCKED_TABLE = "(c.oid = ANY(%(locked)s::oid[]) OR c.reltoastrelid = ANY(%(locked)s::oid[]))"
_LOCKED_INDEX = "(i.indrelid = ANY(%(locked)s::oid[]) OR i.indexrelid = ANY(%(locked)s::oid[]))"

LOCKED_RELATIONS = QUERIES.add("locked_relations", """
SELECT l.relation::bigint AS oid, min(n.nspname || '.' || c.relname) AS name, min(l.pid) AS pid,
       bool_or(l.granted) AS granted
FROM pg_locks l
JOIN pg_class c ON c.oid = l.relation
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock' AND l.pid <> pg_backend_pid()
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
GROUP BY l.relation
ORDER BY 2
""")

SERVER = QUERIES.add("server", """
SELECT current_setting('server_version_num')::int AS server_version_num,
       current_user AS current_user,
       COALESCE((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false) AS is_superuser,
       pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS can_read_all_stats,
       -- superuser-only setting: pg_settings hides it (NULL here) from roles that may not see it
       (SELECT setting FROM pg_settings WHERE name = 'shared_preload_libraries') AS preload_libraries
""")

EXTENSIONS_INSTALLED = QUERIES.add("extensions_installed", """
SELECT e.extname AS name, e.extversion AS version, n.nspname AS schema
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
""")

EXTENSIONS_AVAILABLE = QUERIES.add("extensions_available", "SELECT name FROM pg_available_extensions")

PG_STAT_STATEMENTS_PROBE = QUERIES.add(
    "pg_stat_statements_probe", "SELECT count(*) FROM pg_stat_statements LIMIT 1"
)

DATABASE = QUERIES.add("database", """
SELECT 'postgresql' AS dialect,
       current_database() AS name,
       current_setting('server_version') AS server_version,
       current_setting('server_version_num')::int AS server_version_num,
       pg_database_size(current_database()) AS size_bytes,
       d.stats_reset,
       now() AS collected_at,
       pg_postmaster_start_time() AS server_started_at,
       pg_encoding_to_char(db.encoding) AS encoding,
       COALESCE(d.xact_commit, 0) AS xact_commit,
       COALESCE(d.xact_rollback, 0) AS xact_rollback,
       COALESCE(d.blks_read, 0) AS blks_read,
       COALESCE(d.blks_hit, 0) AS blks_hit,
       COALESCE(d.temp_files, 0) AS temp_files,
       COALESCE(d.temp_bytes, 0) AS temp_bytes,
       COALESCE(d.deadlocks, 0) AS deadlocks
FROM pg_database db
LEFT JOIN pg_stat_database d ON d.datid = db.oid
WHERE db.datname = current_database()
""")

SETTINGS = QUERIES.add("settings", "SELECT name, setting AS value, unit, source FROM pg_settings")

SCHEMAS = QUERIES.add("schemas", f"""
SELECT n.nspname AS name, pg_get_userbyid(n.nspowner) AS owner
FROM pg_namespace n
WHERE {_USER_SCHEMA}
  AND NOT EXISTS (SELECT 1 FROM pg_depend dep
                  WHERE dep.classid = 'pg_namespace'::regclass AND dep.objid = n.oid AND dep.deptype = 'e')
ORDER BY 1
""")

TABLES = QUERIES.add("tables", f"""
SELECT n.nspname AS schema,
       c.relname AS name,
       CASE WHEN c.relkind = 'm' THEN 'matview'
            WHEN c.relkind = 'p' THEN 'partitioned'
            WHEN c.relispartition THEN 'partition'
            ELSE 'plain' END AS kind,
       pg_get_userbyid(c.relowner) AS owner,
       (SELECT pn.nspname || '.' || pc.relname
          FROM pg_inherits inh
          JOIN pg_class pc ON pc.oid = inh.inhparent
          JOIN pg_namespace pn ON pn.oid = pc.relnamespace
         WHERE inh.inhrelid = c.oid AND c.relispartition) AS parent,
       CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key,
       CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS partition_bound,
       CASE WHEN c.reltuples < 0 THEN NULL ELSE c.reltuples::bigint END AS row_estimate,
       c.relpages::bigint AS pages,
       pg_relation_size(c.oid) AS heap_bytes,
       pg_indexes_size(c.oid) AS index_bytes,
       CASE WHEN c.reltoastrelid = 0 THEN 0 ELSE pg_total_relation_size(c.reltoastrelid) END AS toast_bytes,
       CASE WHEN c.relkind = 'p' THEN  -- a partitioned parent holds nothing itself: its partitions' total
            COALESCE((SELECT sum(pg_total_relation_size(pt.relid)) FROM pg_partition_tree(c.oid) pt
                      WHERE pt.isleaf AND NOT pt.relid = ANY(%(locked)s::oid[])), 0)::bigint
            ELSE pg_total_relation_size(c.oid) END AS total_bytes,
       COALESCE(s.seq_scan, 0) AS seq_scan,
       COALESCE(s.seq_tup_read, 0) AS seq_tup_read,
       COALESCE(s.idx_scan, 0) AS idx_scan,
       COALESCE(s.idx_tup_fetch, 0) AS idx_tup_fetch,
       COALESCE(s.n_tup_ins, 0) AS n_tup_ins,
       COALESCE(s.n_tup_upd, 0) AS n_tup_upd,
       COALESCE(s.n_tup_del, 0) AS n_tup_del,
       COALESCE(s.n_tup_hot_upd, 0) AS n_tup_hot_upd,
       COALESCE(s.n_live_tup, 0) AS n_live_tup,
       COALESCE(s.n_dead_tup, 0) AS n_dead_tup,
       COALESCE(s.n_mod_since_analyze, 0) AS n_mod_since_analyze,
       COALESCE(s.n_ins_since_vacuum, 0) AS n_ins_since_vacuum,
       s.last_vacuum, s.last_autovacuum, s.last_analyze, s.last_autoanalyze,
       COALESCE(s.vacuum_count, 0) AS vacuum_count,
       COALESCE(s.autovacuum_count, 0) AS autovacuum_count,
       COALESCE(s.analyze_count, 0) AS analyze_count,
       COALESCE(s.autoanalyze_count, 0) AS autoanalyze_count,
       COALESCE(io.heap_blks_read, 0) AS heap_blks_read,
       COALESCE(io.heap_blks_hit, 0) AS heap_blks_hit,
       COALESCE(io.idx_blks_read, 0) AS idx_blks_read,
       COALESCE(io.idx_blks_hit, 0) AS idx_blks_hit,
       COALESCE(c.reloptions, '{{}}') AS reloptions,
       c.relrowsecurity AS rls_enabled,
       c.relforcerowsecurity AS rls_forced,
       c.relpersistence = 'u' AS unlogged,
       CASE c.relreplident WHEN 'd' THEN 'default' WHEN 'n' THEN 'nothing' WHEN 'f' THEN 'full'
                           WHEN 'i' THEN 'index' END AS replica_identity
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
LEFT JOIN pg_statio_all_tables io ON io.relid = c.oid
WHERE {_USER_RELATION} AND NOT {_LOCKED_TABLE}
ORDER BY 1, 2
""", PG13)

COLUMNS = QUERIES.add("columns", f"""
SELECT n.nspname AS schema,
       c.relname AS table,
       a.attname AS name,
       a.attnum AS position,
       format_type(a.atttypid, a.atttypmod) AS type,
       a.attnotnull AS not_null,
       pg_get_expr(ad.adbin, ad.adrelid) AS default,
       CASE a.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default' END AS identity,
       a.attgenerated <> '' AS generated,
       seq.qualname AS serial_sequence,
       CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation THEN coll.collname END AS collation,
       CASE WHEN st.attname IS NOT NULL THEN json_build_object(
           'null_frac', st.null_frac,
           'avg_width', st.avg_width,
           'n_distinct', st.n_distinct,
           'correlation', st.correlation,
           'most_common_vals',
               CASE WHEN t.typcategory <> 'A' THEN st.most_common_vals::text::text[] END,
           'most_common_freqs', st.most_common_freqs,
           'histogram_bounds',
               CASE WHEN t.typcategory <> 'A' THEN st.histogram_bounds::text::text[] END
       ) END AS stats
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
LEFT JOIN pg_collation coll ON coll.oid = a.attcollation
LEFT JOIN LATERAL (
    SELECT sn.nspname || '.' || s.relname AS qualname
    FROM pg_depend d
    JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
    JOIN pg_namespace sn ON sn.oid = s.relnamespace
    WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
      AND d.refobjid = c.oid AND d.refobjsubid = a.attnum AND d.deptype IN ('a', 'i')
    LIMIT 1
) seq ON true
LEFT JOIN pg_stats st
       ON st.schemaname = n.nspname AND st.tablename = c.relname AND st.attname = a.attname
      AND st.inherited = (c.relkind = 'p')
WHERE a.attnum > 0 AND NOT a.attisdropped AND {_USER_RELATION} AND NOT {_LOCKED_TABLE}
ORDER BY 1, 2, 4
""", PG13)

INDEXES = QUERIES.add("indexes", f"""
SELECT n.nspname AS schema,
       ic.relname AS name,
       n.nspname AS table_schema,
       c.relname AS table,
       am.amname AS method,
       (SELECT json_agg(json_build_object(
                  'expression', pg_get_indexdef(i.indexrelid, k, true),
                  'column', a.attname,
                  'descending', (i.indoption[k - 1] & 1) = 1,
                  'nulls_first', (i.indoption[k - 1] & 2) = 2,
                  'opclass', CASE WHEN NOT oc.opcdefault THEN oc.opcname END,
                  'collation', CASE WHEN i.indcollation[k - 1] <> 0
                                     AND i.indcollation[k - 1] <> COALESCE(a.attcollation, 100)
                                    THEN coll.collname END
               ) ORDER BY k)
          FROM generate_series(1, i.indnkeyatts) AS k
          LEFT JOIN pg_attribute a
                 ON a.attrelid = i.indrelid AND a.attnum = i.indkey[k - 1] AND i.indkey[k - 1] <> 0
          LEFT JOIN pg_opclass oc ON oc.oid = i.indclass[k - 1]
          LEFT JOIN pg_collation coll ON coll.oid = i.indcollation[k - 1]) AS keys,
       pg_get_indexdef(i.indexrelid) AS definition,
       ARRAY(SELECT a.attname
               FROM generate_series(i.indnkeyatts + 1, i.indnatts) AS k
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[k - 1]
              ORDER BY k) AS include,
       pg_get_expr(i.indpred, i.indrelid, true) AS predicate,
       i.indisunique AS is_unique,
       i.indisprimary AS is_primary,
       i.indisexclusion AS is_exclusion,
       i.indisvalid AS is_valid,
       i.indisready AS is_ready,
       pg_relation_size(i.indexrelid) AS size_bytes,
       COALESCE(si.idx_scan, 0) AS idx_scan,
       COALESCE(si.idx_tup_read, 0) AS idx_tup_read,
       COALESCE(si.idx_tup_fetch, 0) AS idx_tup_fetch,
       COALESCE(io.idx_blks_read, 0) AS idx_blks_read,
       COALESCE(io.idx_blks_hit, 0) AS idx_blks_hit,
       con.conname AS constraint,
       CASE con.contype WHEN 'p' THEN 'primary_key' WHEN 'u' THEN 'unique' WHEN 'x' THEN 'exclusion'
       END AS constraint_type
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_am am ON am.oid = ic.relam
LEFT JOIN pg_stat_all_indexes si ON si.indexrelid = i.indexrelid
LEFT JOIN pg_statio_all_indexes io ON io.indexrelid = i.indexrelid
LEFT JOIN pg_constraint con
       ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
WHERE {_USER_RELATION} AND NOT {_LOCKED_INDEX}
ORDER BY 1, 4, 2
""", PG13)

_FK_ACTION = """CASE {col} WHEN 'a' THEN 'no action' WHEN 'r' THEN 'restrict' WHEN 'c' THEN 'cascade'
                         WHEN 'n' THEN 'set null' WHEN 'd' THEN 'set default' END"""

CONSTRAINTS = QUERIES.add("constraints", f"""
SELECT n.nspname AS schema,
       c.relname AS table,
       con.conname AS name,
       CASE con.contype WHEN 'p' THEN 'primary_key' WHEN 'f' THEN 'foreign_key' WHEN 'u' THEN 'unique'
                        WHEN 'c' THEN 'check' WHEN 'x' THEN 'exclusion' END AS type,
       ARRAY(SELECT a.attname
               FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
              ORDER BY k.ord) AS columns,
       pg_get_constraintdef(con.oid, true) AS definition,
       con.convalidated AS validated,
       con.condeferrable AS deferrable,
       con.conparentid <> 0 AS inherited,
       CASE WHEN con.contype IN ('p', 'u', 'x') AND con.conindid <> 0 THEN
            (SELECT xn.nspname || '.' || xc.relname FROM pg_class xc
               JOIN pg_namespace xn ON xn.oid = xc.relnamespace WHERE xc.oid = con.conindid) END AS index,
       rn.nspname AS ref_schema,
       rc.relname AS ref_table,
       ARRAY(SELECT a.attname
               FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum
              ORDER BY k.ord) AS ref_columns,
       {_FK_ACTION.format(col="con.confupdtype")} AS on_update,
       {_FK_ACTION.format(col="con.confdeltype")} AS on_delete
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class rc ON rc.oid = con.confrelid
LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
WHERE con.contype IN ('p', 'f', 'u', 'c', 'x') AND {_USER_RELATION} AND NOT {_LOCKED_TABLE}
ORDER BY 1, 2, 3
""", PG13)

POLICIES = QUERIES.add("policies", f"""
SELECT p.schemaname AS schema,
       p.tablename AS table,
       p.policyname AS name,
       p.permissive = 'PERMISSIVE' AS permissive,
       p.roles::text[] AS roles,
       p.cmd AS command,
       p.qual AS using,
       p.with_check
FROM pg_policies p
JOIN pg_namespace n ON n.nspname = p.schemaname
WHERE {_USER_SCHEMA}
  AND NOT EXISTS (SELECT 1 FROM pg_class lc WHERE lc.relnamespace = n.oid AND lc.relname = p.tablename
                                           AND lc.oid = ANY(%(locked)s::oid[]))
ORDER BY 1, 2, 3
""")

SEQUENCES = QUERIES.add("sequences", f"""
SELECT s.schemaname AS schema,
       s.sequencename AS name,
       s.data_type::text AS data_type,
       s.start_value,
       s.min_value,
       s.max_value,
       s.increment_by AS increment,
       s.cycle,
       s.last_value,
       (SELECT tn.nspname || '.' || t.relname || '.' || a.attname
          FROM pg_depend d
          JOIN pg_class t ON t.oid = d.refobjid
          JOIN pg_namespace tn ON tn.oid = t.relnamespace
          JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
         WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
           AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
         LIMIT 1) AS owned_by
FROM pg_sequences s
JOIN pg_namespace n ON n.nspname = s.schemaname
JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = s.sequencename
WHERE {_USER_SCHEMA} AND {_NOT_EXTENSION_MEMBER}
ORDER BY 1, 2
""")

TRIGGERS = QUERIES.add("triggers", f"""
SELECT n.nspname AS schema, c.relname AS table, t.tgname AS name,
       pg_get_triggerdef(t.oid) AS definition, t.tgenabled <> 'D' AS enabled
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT t.tgisinternal AND t.tgparentid = 0 AND {_USER_SCHEMA} AND {_NOT_EXTENSION_MEMBER}
  AND NOT {_LOCKED_TABLE}
ORDER BY 1, 2, 3
""")

DEPENDENTS = QUERIES.add("dependents", f"""
SELECT DISTINCT n.nspname AS schema, c.relname AS table, vn.nspname || '.' || v.relname AS name,
       CASE v.relkind WHEN 'm' THEN 'matview' ELSE 'view' END AS kind
FROM pg_depend d
JOIN pg_rewrite r ON r.oid = d.objid AND d.classid = 'pg_rewrite'::regclass
JOIN pg_class v ON v.oid = r.ev_class
JOIN pg_namespace vn ON vn.oid = v.relnamespace
JOIN pg_class c ON c.oid = d.refobjid AND d.refclassid = 'pg_class'::regclass
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE v.oid <> c.oid AND {_USER_SCHEMA} AND {_NOT_EXTENSION_MEMBER}
ORDER BY 1, 2, 3
""")

PUBLICATIONS = QUERIES.add("publications", """
SELECT schemaname AS schema, tablename AS table, pubname AS name
FROM pg_publication_tables
ORDER BY 1, 2, 3
""")

# pgstattuple: measured bloat. Only relations above a size floor (%(min_bytes)s): both read the relation.
TABLE_BLOAT = QUERIES.add("table_bloat", f"""
SELECT n.nspname AS schema, c.relname AS name, 'table' AS kind, 'pgstattuple_approx' AS method,
       b.table_len AS size_bytes,
       (b.dead_tuple_len + b.approx_free_space)::bigint AS wasted_bytes,
       b.dead_tuple_len AS dead_tuple_bytes,
       b.approx_free_space AS free_bytes
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL pgstattuple_approx(c.oid) b
WHERE c.relkind IN ('r', 'm') AND {_USER_RELATION} AND NOT {_LOCKED_TABLE}
  AND pg_relation_size(c.oid) >= %(min_bytes)s
""")

INDEX_BLOAT = QUERIES.add("index_bloat", f"""
SELECT n.nspname AS schema, ic.relname AS name, 'index' AS kind, 'pgstatindex' AS method,
       s.index_size AS size_bytes,
       GREATEST(0, (s.leaf_pages * 8192 * (1 - s.avg_leaf_density / 90.0))::bigint
                   + (s.deleted_pages + s.empty_pages) * 8192) AS wasted_bytes,
       s.avg_leaf_density::float8 AS avg_leaf_density
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_am am ON am.oid = ic.relam AND am.amname = 'btree'
CROSS JOIN LATERAL pgstatindex(i.indexrelid::regclass) s
WHERE i.indisvalid AND ic.relkind = 'i' AND {_USER_RELATION} AND NOT {_LOCKED_INDEX}
  AND pg_relation_size(i.indexrelid) >= %(min_bytes)s
""")

# The workload: this database's statements, most expensive first. Utility statements (no plan) and
# dbadvisor's own catalog queries are left out.
PG_STAT_STATEMENTS = QUERIES.add("pg_stat_statements", """
SELECT s.queryid, s.query, s.calls, s.total_exec_time AS total_ms, s.rows
FROM pg_stat_statements s
JOIN pg_database d ON d.oid = s.dbid AND d.datname = current_database()
WHERE s.calls > 0
  AND s.query ~* '^\\s*(WITH|SELECT|UPDATE|DELETE|INSERT|TABLE)\\M'
  AND s.query !~* '(pg_catalog|pg_stat_|hypopg|information_schema)'
ORDER BY s.total_exec_time DESC
LIMIT %(limit)s
""", PG13)

# pg_qualstats (its schema is the extension's, passed as {schema}): the constants each normalized statement
# compared each column with, how often, and how many rows the comparison kept; and an example text.
QUALSTATS_CONSTANTS = QUERIES.add("qualstats_constants", """
SELECT q.queryid, n.nspname AS schema, c.relname AS "table", a.attname AS "column", q.constvalue,
       sum(q.occurences) AS occurrences, sum(q.execution_count) AS evaluated, sum(q.nbfiltered) AS filtered
FROM {schema}.pg_qualstats q
JOIN pg_class c ON c.oid = q.lrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = q.lrelid AND a.attnum = q.lattnum
WHERE q.queryid = ANY(%(ids)s) AND q.constvalue IS NOT NULL AND q.rrelid IS NULL
GROUP BY 1, 2, 3, 4, 5
""")
QUALSTATS_EXAMPLES = QUERIES.add("qualstats_examples", """
SELECT e.queryid, e.query FROM {schema}.pg_qualstats_example_queries() e WHERE e.queryid = ANY(%(ids)s)
""")
# The keys of a JSON column's objects in a bounded sample of its pages (read-only): which keys a
# ``col ->> $1`` statement may be asking for, when pg_stat_statements normalized the key away.
JSON_KEYS_SAMPLE = QUERIES.add("json_keys_sample", """
WITH s AS (SELECT {column}::jsonb AS doc FROM {table} TABLESAMPLE SYSTEM (%(percent)s) LIMIT %(rows)s)
SELECT k AS key, count(*)::float8 / greatest((SELECT count(*) FROM s), 1) AS share,
       count(DISTINCT s.doc ->> k)::float8 / count(*) AS distinct_ratio, min(s.doc ->> k) AS example
FROM s, jsonb_object_keys(CASE WHEN jsonb_typeof(s.doc) = 'object' THEN s.doc END) k
GROUP BY k ORDER BY 2 DESC, 1 LIMIT %(keys)s
""")
# Statements other sessions of this database are running now, for a short sample of their constants.
ACTIVITY_SAMPLE = QUERIES.add("activity_sample", r"""
SELECT pid, query_start, query FROM pg_stat_activity
WHERE state = 'active' AND pid <> pg_backend_pid() AND datname = current_database()
  AND backend_type = 'client backend' AND query !~ '^\s*/\* dbadvisor \*/'
""")
# The share of a bounded sample of a JSON column's rows that contain a value: whether a GIN index for
# ``col @> value`` can pay (a value most rows contain is found as fast by a scan).
CONTAINMENT_SAMPLE = QUERIES.add("containment_sample", """
WITH s AS (SELECT {column}::jsonb AS doc FROM {table} TABLESAMPLE SYSTEM (%(percent)s) LIMIT %(rows)s)
SELECT count(*) FILTER (WHERE s.doc @> %(value)s::jsonb)::float8 / greatest(count(*), 1) FROM s
""")
EXTENSION_SCHEMA = QUERIES.add("extension_schema", """
SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = %(name)s
""")

# -- state of the objects ``apply``, ``revert`` and ``verify`` act on (parameterised by name) -----------
USER_TABLE_COUNT = QUERIES.add("user_table_count", f"""
SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {_USER_RELATION}
""")

# One index by name: whether it exists, whether a build finished (indisvalid), and its real size.
INDEX_STATE = QUERIES.add("index_state", """
SELECT i.indisvalid AS valid, i.indisready AS ready, pg_relation_size(c.oid) AS size_bytes
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_index i ON i.indexrelid = c.oid
WHERE n.nspname = %(schema)s AND c.relname = %(name)s
""")

# INVALID indexes an interrupted build of ``name`` left: the index itself, or REINDEX CONCURRENTLY's
# ``name_ccnew`` / ``name_ccnew1`` copies.
INVALID_LEFTOVERS = QUERIES.add("invalid_leftovers", """
SELECT c.relname AS name
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_index i ON i.indexrelid = c.oid
WHERE NOT i.indisvalid AND n.nspname = %(schema)s
  AND (c.relname = %(name)s OR (left(c.relname, length(%(name)s)) = %(name)s
                                AND substr(c.relname, length(%(name)s) + 1) ~ '^_ccnew[0-9]*$'))
ORDER BY c.relname
""")

TABLE_OPTIONS = QUERIES.add("table_options", """
SELECT COALESCE(c.reloptions, '{}') AS options
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relname = %(name)s
""")

# Which database a session is on: two sessions that agree on all three are on the same database.
DATABASE_IDENTITY = QUERIES.add("database_identity", """
SELECT current_database(), (SELECT oid FROM pg_database WHERE datname = current_database()),
       pg_postmaster_start_time()
""")

# Which server and database a session is on, as history records it: the system identifier (from initdb,
# the same on every restart, different on every other cluster) and the database's oid.
SERVER_IDENTITY = QUERIES.add("server_identity", """
SELECT (SELECT system_identifier::text FROM pg_control_system()) AS system_identifier,
       current_database() AS database,
       (SELECT oid FROM pg_database WHERE datname = current_database())::bigint AS database_oid
""")

# One index by name, as ``apply`` compares it with what a report described: its table, keys, method,
# uniqueness, predicate and definition.
INDEX_DETAIL = QUERIES.add("index_detail", """
SELECT c.oid::bigint AS oid, tn.nspname AS table_schema, t.relname AS table_name,
       i.indisvalid AS valid, i.indisready AS ready, i.indisunique AS is_unique, am.amname AS method,
       pg_get_indexdef(c.oid) AS definition,
       ARRAY(SELECT COALESCE(a.attname, pg_get_indexdef(i.indexrelid, k, true))
               FROM generate_series(1, i.indnkeyatts) AS k
               LEFT JOIN pg_attribute a
                      ON a.attrelid = i.indrelid AND a.attnum = i.indkey[k - 1] AND i.indkey[k - 1] <> 0
              ORDER BY k) AS keys,
       ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true) FROM generate_series(1, i.indnkeyatts) AS k
              ORDER BY k) AS key_expressions,
       pg_get_expr(i.indpred, i.indrelid, true) AS predicate
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_index i ON i.indexrelid = c.oid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace tn ON tn.oid = t.relnamespace
JOIN pg_am am ON am.oid = c.relam
WHERE n.nspname = %(schema)s AND c.relname = %(name)s
""")

# Statements dbadvisor's own sessions leave in pg_stat_statements carry this comment, so the workload
# reader can leave them out (pg_stat_statements keeps a statement's text as first seen, comment included).
OWN_MARK = "/* dbadvisor */"

# An index's keys and predicate as the catalog prints them, to count the duplicates a unique rebuild hits;
# NULLS NOT DISTINCT exists from PostgreSQL 15.
_UNIQUE_INDEX_KEYS = """
SELECT tn.nspname, t.relname,
       ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true) FROM generate_series(1, i.indnkeyatts) AS k
              ORDER BY k),
       pg_get_expr(i.indpred, i.indrelid, true), {nulls_not_distinct}
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_index i ON i.indexrelid = c.oid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace tn ON tn.oid = t.relnamespace
WHERE n.nspname = %(schema)s AND c.relname = %(name)s AND i.indisunique
"""
QUERIES.add("unique_index_keys", _UNIQUE_INDEX_KEYS.format(nulls_not_distinct="false"))
QUERIES.add("unique_index_keys", _UNIQUE_INDEX_KEYS.format(nulls_not_distinct="i.indnullsnotdistinct"), PG15)

# Rows pg_stat_statements hides from a role without pg_read_all_stats: their text reads
# '<insufficient privilege>', so they cannot join the workload; counted so the report can say so.
PG_STAT_STATEMENTS_HIDDEN = QUERIES.add("pg_stat_statements_hidden", """
SELECT count(*) AS hidden, COALESCE(sum(s.total_exec_time), 0) AS hidden_ms
FROM pg_stat_statements s
JOIN pg_database d ON d.oid = s.dbid AND d.datname = current_database()
WHERE s.query = '<insufficient privilege>'
""")

# What ``apply`` compares the non-index operations with before running them.
COLUMN_TYPE = QUERIES.add("column_type", """
SELECT format_type(a.atttypid, a.atttypmod)
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relname = %(table)s AND a.attname = %(column)s AND NOT a.attisdropped
""")
SEQUENCE_TYPE = QUERIES.add("sequence_type", """
SELECT data_type::text FROM pg_sequences WHERE schemaname = %(schema)s AND sequencename = %(name)s
""")
POLICY_EXISTS = QUERIES.add("policy_exists", """
SELECT 1 FROM pg_policies WHERE schemaname = %(schema)s AND tablename = %(table)s AND policyname = %(name)s
""")
PRIMARY_KEY_COLUMNS = QUERIES.add("primary_key_columns", """
SELECT array_agg(a.attname::text ORDER BY k.n)
FROM pg_constraint c
CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, n)
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
WHERE c.conrelid = to_regclass(%(table)s) AND c.contype = 'p'
""")

REFERENCING_TABLES = QUERIES.add("referencing_tables", """
SELECT DISTINCT c.conrelid::regclass::text
FROM pg_constraint c
WHERE c.confrelid = to_regclass(%(table)s) AND c.contype = 'f' AND c.conrelid <> c.confrelid
""")

# Heap and total bytes of a table, a partitioned one's being its leaves' (pg_partition_tree has no rows
# for a plain table).
TREE_SIZES = QUERIES.add("tree_sizes", """
SELECT COALESCE(sum(pg_relation_size(t.relid)), pg_relation_size(r.oid))::bigint AS heap_bytes,
       COALESCE(sum(pg_total_relation_size(t.relid)), pg_total_relation_size(r.oid))::bigint AS total_bytes
FROM (SELECT to_regclass(%(table)s) AS oid) r
LEFT JOIN LATERAL pg_partition_tree(r.oid) t ON t.isleaf
GROUP BY r.oid
""")

EXTENSION_EXISTS = QUERIES.add("extension_exists", "SELECT 1 FROM pg_extension WHERE extname = %(name)s")

# Every user table's total size, and nothing else: what a migrations lint needs of a live database.
TABLE_SIZES = QUERIES.add("table_sizes", f"""
SELECT n.nspname || '.' || c.relname, pg_total_relation_size(c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {_USER_RELATION} AND NOT {_LOCKED_TABLE}
""")
