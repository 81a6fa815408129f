"""retention_policy: a table whose old rows nobody reads, to keep only a horizon of."""

from __future__ import annotations

from collections.abc import Iterator

from dbadvisor.checks.base import WORKLOAD, Check
from dbadvisor.checks.time_series import TableTime, tables_over_time
from dbadvisor.model.capabilities import PG_PARTMAN
from dbadvisor.model.catalog import TableKind
from dbadvisor.model.ddl import SetRetention
from dbadvisor.model.findings import Finding, Severity
from dbadvisor.model.timeseries import LOG_LIKE, bare_interval, interval_days, normal_interval, today
from dbadvisor.model.units import human_bytes


class RetentionPolicy(Check):
    """Retention policy: a log, event or queue table (or one the workload reads only while fresh, or
    already expires with a periodic DELETE) that keeps every row forever. Keep a horizon: drop whole
    partitions older than it, or delete in batches.

    Bad::

        llm_debug_log: 2.1M rows over 14 months; the app reads the last 7 days;
        nothing ever removes a row

    Good::

        keep 30 days: partitions older than that are dropped (or rows deleted in keyset batches,
        with lock_timeout and pauses), by `dbadvisor maintain` from cron
    """

    id = "retention_policy"
    name = "Table without a retention horizon"
    groups = ("scalability", "storage", WORKLOAD)
    severity = Severity.MEDIUM
    severity_range = (Severity.LOW, Severity.HIGH)
    options = {
        "small_rows": 10_000,  # never below this
        "min_share": 0.1,  # the rows past the horizon, of all rows, for a finding
        "log_keep": "90 days",  # a log-like table nothing reads: what to keep
        "margin": 2.0,  # keep this many times the longest window read, at least
        "insert_share": 0.9,  # unless it already expires rows: inserts against all writes (records that
        # change are an application's state, not a log)
    }

    def run(self) -> Iterator[Finding]:
        for tt in tables_over_time(self.ctx):
            finding = self._judge(tt)
            if finding is not None:
                yield finding

    def _keep(self, tt: TableTime) -> tuple[str, str] | None:
        """(how much to keep, why), or None when the workload reads the table's whole history."""
        expiring = [u for u in tt.reads if u.window.kind == "expire"]
        if expiring:
            written = [u.window.age for u in expiring if u.window.age is not None]
            if written:
                keep = max(written, key=interval_days)
                return keep, f"the workload already deletes rows older than {keep}"
            if tt.profile.oldest is not None and tt.profile.newest is not None:
                # The horizon is a parameter ($1::interval): what it removes is what the table no longer
                # holds, so the oldest row tells its age.
                age = (tt.profile.newest - tt.profile.oldest).total_seconds() / 86400
                keep = bare_interval(max(age, 1))
                return keep, (f"the workload already deletes rows by age (the horizon is a parameter); the oldest "
                              f"row is {age:.0f} days old, so it keeps about {keep}")
        t = tt.table
        writes = t.n_tup_ins + t.n_tup_upd + t.n_tup_del
        if writes >= 1000 and t.n_tup_ins / writes < self.opts["insert_share"]:
            return None
        if any(u.window.kind in ("unbounded", "older", "since", "range") for u in tt.reads
               if u.window.statement == "select"):
            return None  # some statement reads old rows (or rows of any age it is given)
        ages = [u.window.age for u in tt.reads if u.window.kind == "recent"]
        if any(a is None for a in ages):
            if LOG_LIKE.search(tt.table.name):
                keep = normal_interval(str(self.opts["log_keep"]))
                return keep, (f"a log-like table read in recent windows of a length the workload does not show "
                              f"(a parameter); the log_keep option says how much to keep: check that no window "
                              f"reaches past {keep}")
            return None  # a window of unknown length ($1::interval): how old it reaches is not known
        if ages:
            longest = max(interval_days(a) for a in ages if a)
            keep = bare_interval(max(longest * float(self.opts["margin"]), 1))
            return keep, (f"the longest window the workload reads is {bare_interval(longest)}; "
                          f"{self.opts['margin']:g}x that is kept")
        if LOG_LIKE.search(tt.table.name):
            keep = normal_interval(str(self.opts["log_keep"]))
            return keep, "a log-like table that no statement reads; the log_keep option says how much to keep"
        return None

    def _judge(self, tt: TableTime) -> Finding | None:
        t = tt.table
        if tt.profile.rows < self.opts["small_rows"]:
            return None
        decided = self._keep(tt)
        if decided is None:
            return None
        keep, why = decided
        older = tt.older_than(keep, today())
        share = older / tt.profile.rows if tt.profile.rows else 0.0
        deletes = any(u.window.kind == "expire" for u in tt.reads)
        if share < self.opts["min_share"] and not deletes:
            return None  # (a table already expired by a DELETE gets its policy: batches, or partition drops)
        reclaim = int(older * tt.bytes_per_row)
        partitioned = t.kind == TableKind.PARTITIONED
        method = "drop_partitions" if partitioned else "delete"
        how = ("partitions wholly older than the horizon are detached and dropped" if partitioned else
               "rows are deleted in keyset batches under lock_timeout, with pauses, then the table is vacuumed; "
               "partitioning it (see partition_by_time) would drop whole partitions instead, writing a fraction "
               "of the WAL a DELETE writes")
        referencing = sorted({f"{c.schema}.{c.table}" for c in self.ctx.snapshot.referenced_by(t.key)
                              if c.table_key != t.key})
        if referencing:
            how += f"; foreign keys from {', '.join(referencing)} point to it: their rows go first (or block)"
        severity = Severity.HIGH if share >= 0.5 and reclaim >= 1 << 30 else Severity.MEDIUM if share >= 0.3 \
            else Severity.LOW
        if deletes:
            how += ("; the DELETE the workload runs removes each day's rows in one statement, writing every row to "
                    "the WAL: the policy removes them in batches (or whole partitions) instead")
        return self.finding(
            t.qualname,
            title=(f"Keep {keep} of {t.qualname}: {older:,} rows ({share:.0%}) are older" if older else
                   f"Keep {keep} of {t.qualname} by a batched policy instead of its one-statement DELETE"),
            detail=(f"{t.qualname} holds {tt.profile.rows:,} rows since "
                    f"{tt.profile.oldest.date() if tt.profile.oldest else '?'}; {why}. {older:,} rows "
                    f"({human_bytes(reclaim)}) are older than {keep}: {how}. "
                    "`dbadvisor maintain` enforces the policy from cron; `--dry-run` only counts."),
            severity=severity,
            table=t.qualname,
            columns=(tt.column.name,),
            evidence={
                "keep": keep, "keep_from": why, "method": method,
                "rows": tt.profile.rows, "rows_older": older, "share_older": round(share, 4),
                "bytes_older": reclaim, "bytes_reclaimable": reclaim, "counted": tt.profile.method,
                "oldest": tt.profile.oldest.isoformat() if tt.profile.oldest else None,
                "statements": [u.to_dict(tt.weight) for u in sorted(tt.reads, key=lambda u: -u.weight)[:10]],
                "referenced_by": referencing,
            },
            fix=SetRetention(t.schema, t.name, tt.column.name, keep, method, partman_schema=(
                self.ctx.capabilities.extension_schema(PG_PARTMAN) if partitioned else None)),
        )
