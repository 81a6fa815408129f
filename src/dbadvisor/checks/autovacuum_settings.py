"""autovacuum_settings: tables whose dead tuples outrun autovacuum's default thresholds, or where it
is switched off."""

from __future__ import annotations

from collections.abc import Iterator

from dbadvisor.checks.base import Check
from dbadvisor.model.catalog import Table, TableKind
from dbadvisor.model.ddl import AlterSystemSet, SetTableOptions
from dbadvisor.model.findings import Finding, Severity

AV_KEYS = ("autovacuum_vacuum_scale_factor", "autovacuum_vacuum_threshold",
           "autovacuum_analyze_scale_factor", "autovacuum_vacuum_insert_scale_factor")


class AutovacuumSettings(Check):
    """Autovacuum left at defaults on a large or high-churn table waits for 20% of the rows to be dead
    before it starts; on a 50-million-row table that is 10 million dead rows. Per-table settings sized
    to the table keep it small. A table with autovacuum disabled only bloats.

    Bad::

        ALTER TABLE webhook_events SET (autovacuum_enabled = false);

    Good::

        ALTER TABLE events SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000);
    """

    id = "autovacuum_settings"
    name = "Autovacuum settings"
    groups = ("vacuum", "configuration")
    severity = Severity.MEDIUM
    severity_range = (Severity.LOW, Severity.HIGH)
    options = {"large_table_rows": 1_000_000, "target_dead_tuples": 100_000, "min_scale_factor": 0.002,
               "churn_ratio": 1.0, "min_rows": 10_000}

    def run(self) -> Iterator[Finding]:
        snap = self.ctx.snapshot
        if snap.setting("autovacuum") == "off":
            yield self.finding("server", title="Autovacuum is disabled for the whole server",
                               detail="autovacuum = off: no table is vacuumed or analyzed automatically, "
                                      "dead tuples accumulate and transaction ID wraparound looms.",
                               severity=Severity.HIGH, evidence={"autovacuum": "off"},
                               fix=AlterSystemSet("autovacuum", "on"))
        for table in snap.tables:
            if table.kind == TableKind.PARTITIONED:
                continue  # autovacuum works on the partitions
            if table.reloptions.get("autovacuum_enabled", "true").lower() in ("false", "off", "0"):
                yield self._disabled(table)
            elif not any(k in table.reloptions for k in AV_KEYS[:2]):
                finding = self._tuning(table)
                if finding:
                    yield finding

    def _global(self, name: str, default: float) -> float:
        value = self.ctx.snapshot.setting(name)
        try:
            return float(value) if value is not None else default
        except ValueError:
            return default

    def _disabled(self, table: Table) -> Finding:
        return self.finding(
            table.qualname,
            title=f"Autovacuum is disabled on {table.qualname}",
            detail=(f"{table.qualname} has autovacuum_enabled = false and {table.n_dead_tup:,} dead tuples: nothing "
                    "reclaims them or refreshes its statistics. Re-enable it (tune its thresholds instead of "
                    "switching it off)."),
            severity=Severity.HIGH if table.n_dead_tup >= self.opts["min_rows"] else Severity.MEDIUM,
            table=table.qualname,
            evidence={"reloptions": dict(table.reloptions), "dead_tuples": table.n_dead_tup,
                      "last_autovacuum": table.last_autovacuum},
            fix=SetTableOptions(table.schema, table.name, {"autovacuum_enabled": "true"},
                                previous={"autovacuum_enabled": table.reloptions["autovacuum_enabled"]}),
        )

    def _tuning(self, table: Table) -> Finding | None:
        rows = table.rows
        if not self.ctx.capabilities.live_statistics or rows < self.opts["min_rows"]:  # churn needs counters
            return None
        scale = self._global("autovacuum_vacuum_scale_factor", 0.2)
        base = self._global("autovacuum_vacuum_threshold", 50)
        trigger = base + scale * rows
        churn = (table.n_tup_upd + table.n_tup_del) / rows
        outrun = table.n_dead_tup > trigger
        # Size alone is no reason: a table nothing updates or deletes makes no dead tuples to vacuum.
        large = rows >= self.opts["large_table_rows"] and table.n_tup_upd + table.n_tup_del + table.n_dead_tup > 0
        if not (large or outrun or churn >= self.opts["churn_ratio"]):
            return None
        new_scale = _round_down(max(self.opts["min_scale_factor"],
                                    min(scale / 2, self.opts["target_dead_tuples"] / rows)))
        if new_scale >= scale:
            return None
        options = {
            "autovacuum_vacuum_scale_factor": f"{new_scale:.4g}",
            "autovacuum_vacuum_threshold": "1000",
            "autovacuum_analyze_scale_factor": f"{max(new_scale / 2, 0.001):.4g}",
            "autovacuum_vacuum_insert_scale_factor": f"{new_scale:.4g}",
        }
        new_trigger = 1000 + new_scale * rows
        reasons = []
        if large:
            reasons.append(f"{rows:,} rows")
        if churn >= self.opts["churn_ratio"]:
            reasons.append(f"{table.n_tup_upd + table.n_tup_del:,} updates/deletes ({churn:.1f}x its size)")
        if outrun:
            reasons.append(f"{table.n_dead_tup:,} dead tuples already past the {trigger:,.0f} trigger")
        return self.finding(
            table.qualname,
            title=f"Autovacuum thresholds too loose for {table.qualname}",
            detail=(f"{table.qualname} ({'; '.join(reasons)}): with the defaults (scale factor {scale:g}) autovacuum "
                    f"waits for {trigger:,.0f} dead tuples. Per-table settings bring that to {new_trigger:,.0f}."),
            severity=Severity.MEDIUM if outrun or churn >= self.opts["churn_ratio"] else Severity.LOW,
            table=table.qualname,
            evidence={"rows": rows, "dead_tuples": table.n_dead_tup, "updates": table.n_tup_upd,
                      "deletes": table.n_tup_del, "current_trigger": round(trigger),
                      "proposed_trigger": round(new_trigger), "autovacuum_count": table.autovacuum_count,
                      "last_autovacuum": table.last_autovacuum},
            fix=SetTableOptions(table.schema, table.name, options,
                                previous={k: v for k, v in table.reloptions.items() if k in options}),
        )


_NICE = (0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001)


def _round_down(value: float) -> float:
    """The largest of the usual scale factors not above ``value`` (0.05, not 0.09997): a setting a DBA
    reads at a glance, and never looser than what was computed."""
    return next((n for n in _NICE if n <= value), value)
