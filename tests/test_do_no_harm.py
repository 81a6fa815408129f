"""Do no harm: an index is judged on every statement on its table, not only those it is meant to help.
What it costs the others (measured slower by verify or apply) counts against what it saves, and the
finding names them. Pure logic over recorded measurements; the measuring itself is tested on a real
server in test_verify and test_apply."""

from __future__ import annotations

from dbadvisor.dialects.postgres.explain import Measurement
from dbadvisor.model.findings import Finding, Severity
from dbadvisor.verify.run import Outcome, QueryRun, judge


def run(query: str, before: float, after: float, weight: float = 1.0, used: bool = True) -> QueryRun:
    return QueryRun({"query": query}, query, weight, before=Measurement(before, (before,), 10, ()),
                    after=Measurement(after, (after,), 5, ("idx",) if used else ()))


def finding() -> Finding:
    return Finding("missing_index:public.idx", "missing_index", Severity.MEDIUM, "Create index idx", "Helps.",
                   evidence={"size_bytes": 8192})


def test_a_bystander_made_slower_is_named_and_weighed() -> None:
    helped = [run("SELECT 1 FROM t WHERE a = 1", 10.0, 1.0)]
    slower = run("SELECT 1 FROM t WHERE b = 2 ORDER BY c LIMIT 5", 0.06, 0.4, weight=10)
    unchanged = run("SELECT 1 FROM t WHERE d = 3", 1.0, 1.0)
    figures = Outcome(helped, True, {"runs": 5}, [slower, unchanged], "idx").summarize(0.10)
    assert [s["query"] for s in figures["slower"]] == [slower.sql]
    assert figures["weighted_harm_ms"] == 3.4 and figures["bystanders_measured"] == 2
    assert figures["pays_off"]  # 9 ms saved, 3.4 ms lost
    judged = judge(finding(), Outcome(helped, True, {"runs": 5}, [slower, unchanged], "idx"), 0.10, "scratch")
    assert "1 other statement(s) on the table slower (worst 0.06 -> 0.40 ms)" in judged.detail
    assert judged.evidence["verification"]["verdict"] == "confirmed"


def test_an_index_whose_harm_outweighs_its_gain_is_demoted() -> None:
    helped = [run("SELECT 1 FROM t WHERE a = 1", 2.0, 1.0)]
    slower = run("SELECT 1 FROM t WHERE b = 2 ORDER BY c LIMIT 5", 9.0, 25.0, weight=50)
    judged = judge(finding(), Outcome(helped, True, {"runs": 5}, [slower], "idx"), 0.10, "scratch")
    assert judged.evidence["verification"]["verdict"] == "demoted"
    assert judged.severity == Severity.LOW
    assert "what it costs other statements outweighs its gain" in judged.detail


def test_without_bystanders_the_verdict_is_as_before() -> None:
    helped = [run("SELECT 1 FROM t WHERE a = 1", 10.0, 1.0)]
    figures = Outcome(helped, True, {"runs": 5}).summarize(0.10)
    assert figures["pays_off"] and figures["slower"] == [] and figures["weighted_harm_ms"] == 0


def test_a_bystander_whose_plan_does_not_use_the_index_is_noise_not_harm() -> None:
    """The same plan run twice: a slower second run is the machine, not the index."""
    helped = [run("SELECT 1 FROM t WHERE a = 1", 10.0, 1.0)]
    same_plan = run("SELECT 1 FROM t WHERE b = 2", 23.0, 37.0, weight=100, used=False)
    figures = Outcome(helped, True, {"runs": 5}, [same_plan], "idx").summarize(0.10)
    assert figures["slower"] == [] and figures["weighted_harm_ms"] == 0 and figures["pays_off"]
