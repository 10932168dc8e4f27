"""The fact store: facts stored by natural key (newest version wins), the persons a fact without a person
affects, and the facts of many persons with those around them, read in one statement. No commits here.

Which facts are around a person, and through which ids, is read from the one description of the fact kinds
(`domain.facts.FACT_KINDS`). The statements on the consumer's hot path are built once, here at import (per
dialect, see `sql.py`), and executed with bound parameters (list parameters, executemany): SQLAlchemy compiles
each of them once per engine instead of building, hashing and compiling a new statement per event.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import timezone
from typing import Any, Iterable

from sqlalchemy import Text, any_, bindparam, cast, func, or_, select, text, tuple_, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from skillkit.db import utcnow
from skillkit.inserts import dialect_insert

from subsidy_service.adapters.models import FactRow
from subsidy_service.adapters.policy_tables import TABLES_STAMP
from subsidy_service.adapters.sql import member, per_dialect, run
from subsidy_service.domain.facts import FACT_KINDS, SCOPE_COLUMNS, Fact, FactSet, Scope, payload_of, scope_of

facts_t = FactRow.__table__

# The kinds of a person's facts that link the person to each scope (a class, an enrolment, an institution, an
# evaluation institution), grouped by those kinds: (kinds, scopes).
_LINKED: dict[tuple[str, ...], list[Scope]] = defaultdict(list)
for _scope in dict.fromkeys(s for kind in FACT_KINDS.values() for s in kind.links):
    _LINKED[tuple(k.name for k in FACT_KINDS.values() if _scope in k.links)].append(_scope)
# The kinds of the facts without a person read around a person, per id column.
_AROUND = {column: [kind.name for kind in FACT_KINDS.values() if any(s.column == column for s in kind.around)]
           for column in SCOPE_COLUMNS}


# The persons linked to the scopes of a batch's person-less facts (read after the scope locks are held): per group
# of linking kinds, their facts naming one of the scopes' ids (a list parameter per scope).
def _affected_statement(dialect: str) -> Any:
    return select(facts_t.c.person_key, facts_t.c.kind, *(facts_t.c[column] for column in SCOPE_COLUMNS)).where(
        facts_t.c.person_key.is_not(None),
        or_(*(
            facts_t.c.kind.in_(kinds) & or_(*(member(facts_t.c[scope.column], scope.name, dialect) for scope in scopes))
            for kinds, scopes in _LINKED.items()
        )),
    )


_AFFECTED = per_dialect(_affected_statement)


async def affected_persons(conn: AsyncConnection, facts: Iterable[Fact]) -> dict[tuple[str, str], set[str]]:
    """For each person-less fact (by kind, key): the persons whose chains it can change. One query."""
    scoped = {(f.kind, f.key): scope for f in facts if (scope := scope_of(f)) is not None}
    if not scoped:
        return {}
    wanted: dict[str, set[Any]] = {s.name: set() for scopes in _LINKED.values() for s in scopes}
    for scope, value in scoped.values():
        wanted[scope.name].add(value)
    rows = await run(conn, _AFFECTED, {name: sorted(values) for name, values in wanted.items()})
    linked: dict[tuple[Scope, Any], set[str]] = defaultdict(set)
    for row in rows:
        for scope in FACT_KINDS[row.kind].links:
            value = getattr(row, scope.column)
            if value is not None:
                linked[scope, value].add(row.person_key)
    return {slot: linked.get(scope, set()) for slot, scope in scoped.items()}


_FACT_COLUMNS = ("kind", "key", "event_type", "event_id", "event_time", "person_key", "voucher_id", "enrolment_id",
                 "class_id", "institution_id", "data", "received_at")


_FACT_TYPES = dict(kind="text", key="text", event_type="text", event_id="text", event_time="timestamptz",
                   person_key="text", voucher_id="text", enrolment_id="text", class_id="text", institution_id="text",
                   data="text")
_NEWER = "(facts.event_time, facts.event_id) < (excluded.event_time, excluded.event_id)"

# PostgreSQL: one array per column, unnested. The SQL text is the same for any number of facts, so asyncpg
# prepares it once per connection (a multi-row VALUES list is new SQL — a new server-side prepare — for every
# batch size). Rows are inserted in the arrays' order (sorted, see put_facts). The payload is bound as the JSON text pydantic writes (not a dict serialised again in Python).
_PUT_FACTS_PG = text(
    f"INSERT INTO {facts_t.name} ({', '.join(_FACT_COLUMNS)})"
    f" SELECT {', '.join(name if name != 'data' else 'CAST(data AS json)' for name in _FACT_TYPES)},"
    " CAST(:received_at AS timestamptz)"
    f" FROM unnest({', '.join(f'CAST(:{name} AS {kind}[])' for name, kind in _FACT_TYPES.items())})"
    f" WITH ORDINALITY AS t({', '.join(_FACT_TYPES)}, n) ORDER BY t.n"  # in the given (sorted) order
    " ON CONFLICT (kind, key) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _FACT_COLUMNS if name not in ("kind", "key"))
    + f" WHERE {_NEWER} RETURNING facts.kind, facts.key"
)


def _put_facts_sqlite() -> Any:
    stmt = dialect_insert("sqlite", facts_t).values({
        **{name: bindparam(name, type_=facts_t.c[name].type) for name in _FACT_COLUMNS if name != "data"},
        "data": bindparam("data", type_=Text),  # already JSON text
    })
    return stmt.on_conflict_do_update(
        index_elements=["kind", "key"],
        set_={name: stmt.excluded[name] for name in _FACT_COLUMNS if name not in ("kind", "key")},
        where=tuple_(facts_t.c.event_time, facts_t.c.event_id) < tuple_(stmt.excluded.event_time, stmt.excluded.event_id),
    ).returning(facts_t.c.kind, facts_t.c.key)


_PUT_FACTS_SQLITE = _put_facts_sqlite()


async def put_facts(conn: AsyncConnection, facts: list[tuple[Fact, str | None]]) -> set[tuple[str, str]]:
    """Stores facts (with the person key to file each under) unless a newer version of one is already stored;
    returns the (kind, key) of those that changed the store. One multi-row upsert that updates a row only when
    the stored version is older (event time, then event id). The facts must have distinct (kind, key) — an
    upsert cannot touch a row twice — and are written sorted, so two batches lock shared rows in one order."""
    if not facts:
        return set()
    for fact, _ in facts:
        _remember(fact)
    now = utcnow()
    rows = [
        dict(
            kind=fact.kind, key=fact.key, event_type=fact.type, event_id=fact.event_id, event_time=fact.time,
            person_key=person_key or fact.person_key, voucher_id=fact.field("voucher_id"),
            enrolment_id=fact.field("enrolment_id"), class_id=fact.field("class_id"),
            institution_id=fact.field("institution_id"), data=fact.payload.model_dump_json(),
        )
        for fact, person_key in sorted(facts, key=lambda item: (item[0].kind, item[0].key))
    ]
    if conn.dialect.name == "postgresql":
        columns = {name: [row[name] for row in rows] for name in _FACT_TYPES}
        result = await conn.execute(_PUT_FACTS_PG, {**columns, "received_at": now})
    else:
        result = await conn.execute(_PUT_FACTS_SQLITE, [{**row, "received_at": now} for row in rows])
    return {(kind, key) for kind, key in result}


# One statement for the facts of every person of a batch and the class, province and institution facts around
# them: a UNION ALL of index lookups (person keys; class, enrolment and institution ids of their facts). Each
# row also carries the policy tables' stamp (row count, newest change): uncorrelated scalar subqueries, run
# once per statement, so the parsed tables are reused without a query of their own while the stamp holds.
# The payload comes as its JSON text: only a fact not parsed before in this process is parsed (`_PARSED`).
_fact_columns = (facts_t.c.id, facts_t.c.kind, facts_t.c.key, facts_t.c.event_type, facts_t.c.event_id,
                 facts_t.c.event_time, cast(facts_t.c.data, Text).label("data"), facts_t.c.person_key,
                 facts_t.c.class_id, facts_t.c.enrolment_id, facts_t.c.institution_id)


def _among(column: Any, values: Any, dialect: str) -> Any:
    """`column` is one of the distinct `values` (a column of the `own` CTE). On PostgreSQL as `= ANY(ARRAY(...))`:
    an index lookup per value whatever the planner estimates. The facts table fills fast and its statistics lag:
    with `IN (SELECT ...)` the planner took a nested-loop semi join that compared every fact of the class scope
    with every row of `own` (18,000 comparisons, 5 of the statement's 7 ms, for 20 persons)."""
    distinct = select(values).distinct()
    if dialect == "postgresql":
        return column == any_(func.array(distinct.scalar_subquery()))
    return column.in_(distinct)


def _person_facts_statement(dialect: str) -> Any:
    own = select(*(facts_t.c[column] for column in SCOPE_COLUMNS)).where(
        member(facts_t.c.person_key, "persons", dialect)
    ).cte("own")
    around = union_all(
        select(*_fact_columns).where(member(facts_t.c.person_key, "persons", dialect)),
        # per id column, the facts without a person of the kinds read around it (a class's filing, approval and
        # outcome and its province answers; an enrolment's province answers; a training institution's
        # suspension, an evaluation institution's filing)
        *(select(*_fact_columns).where(
            _among(facts_t.c[column], own.c[column], dialect),
            facts_t.c.kind.in_(kinds),
            facts_t.c.person_key.is_(None),
        ) for column, kinds in _AROUND.items()),
    ).subquery("around")
    return select(around, *TABLES_STAMP)


_PERSON_FACTS = per_dialect(_person_facts_statement)


# Parsed facts by (event id, natural key). A stored fact version is one event — or one line of it: the lines of
# a province sheet answer (P1) are facts of one event id, told apart by their keys — and an event's payload
# never changes, so an entry is valid for as long as the process lives, whatever was rolled back or written by
# other replicas.
# Facts this process stores are entered as they arrive (already parsed from the event), so the re-evaluations
# that follow — a person several times as the chain fills up, a class's facts for each trainee — parse
# nothing. Bounded to about the facts of the chains in flight (every entry is scanned by the garbage
# collector): emptied when full, a miss costs one parse.
_PARSED: dict[tuple[str, str], Fact] = {}
_PARSED_MAX = 20_000


def _remember(fact: Fact) -> Fact:
    if len(_PARSED) >= _PARSED_MAX:
        _PARSED.clear()
    if fact.time.tzinfo is not timezone.utc:  # in UTC, as the store hands the time back
        fact = replace(fact, time=fact.time.astimezone(timezone.utc))
    _PARSED[fact.event_id, fact.key] = fact
    return fact


def _fact_of(row: Any) -> Fact:
    fact = _PARSED.get((row.event_id, row.key))
    if fact is None or fact.type != row.event_type:
        fact = _remember(Fact(row.event_type, row.event_id, row.event_time, payload_of(row.event_type, row.data)))
    return fact


class PersonFacts:
    """The facts of several persons from one query: `of(person)` is what `evaluate_person` needs."""

    def __init__(self, rows: list[Any]) -> None:
        self._own: dict[str, list[Fact]] = defaultdict(list)
        self._ids: dict[str, set[tuple[str, str]]] = defaultdict(set)  # person -> (column, value) of own facts
        self._around: dict[tuple[str, str], list[Fact]] = defaultdict(list)
        for row in rows:
            fact = _fact_of(row)
            person = row.person_key
            if person is not None:
                self._own[person].append(fact)
                ids = self._ids[person]
                for column in SCOPE_COLUMNS:
                    value = getattr(row, column)
                    if value is not None:
                        ids.add((column, value))
                continue
            # the same selection as the query's branches, so each person gets exactly those
            for column in dict.fromkeys(scope.column for scope in FACT_KINDS[row.kind].around):
                value = getattr(row, column)
                if value is not None:
                    self._around[column, value].append(fact)
        self.stamp = (rows[0].tables_count, rows[0].tables_changed) if rows else None  # see TABLES_STAMP

    def of(self, person_key: str) -> FactSet:
        facts = FactSet(self._own.get(person_key, ()))
        for scope in self._ids.get(person_key, ()):
            for fact in self._around.get(scope, ()):
                facts.add(fact)
        return facts


# The facts query is index lookups by design (persons, then their classes, enrolments and institutions), but the
# planner needs statistics to see it: the facts table fills fast and is first analysed a minute or more after
# a deployment starts (autovacuum), never within a benchmark. Without statistics it guessed that 140 persons
# match a quarter of the table and scanned all of it (20 ms, growing with every fact, against 7 ms by index on
# the 23,000 facts of a 2,880-chain run); a generic plan cached while the table was small scanned it too (3.7-9.4
# ms per call at 50 chains/s, against 0.9 ms by index). So sequential scans are off for this one statement, and JIT
# with them: the penalty cost that disables a scan would otherwise pass the JIT threshold (400 ms of
# compilation per call, measured). Both are set back to their previous values for the statements that follow:
# read by the first statement (its subquery, fenced by OFFSET 0, is read before the settings change) and bound
# in the second — reading them back from pg_settings cost ~0.7 ms, as much as the query itself.
_INDEX_LOOKUPS_ONLY = text(
    "SELECT previous.seqscan, previous.jit, set_config('enable_seqscan', 'off', true), set_config('jit', 'off', true)"
    " FROM (SELECT current_setting('enable_seqscan') AS seqscan, current_setting('jit') AS jit OFFSET 0) AS previous"
)
_PLAN_AS_BEFORE = text("SELECT set_config('enable_seqscan', :seqscan, true), set_config('jit', :jit, true)")


async def person_facts(conn: AsyncConnection, person_keys: list[str]) -> PersonFacts:
    if conn.dialect.name != "postgresql":
        return PersonFacts(list(await run(conn, _PERSON_FACTS, {"persons": person_keys})))
    seqscan, jit, _, _ = (await conn.execute(_INDEX_LOOKUPS_ONLY)).one()
    rows = list(await run(conn, _PERSON_FACTS, {"persons": person_keys}))
    await conn.execute(_PLAN_AS_BEFORE, {"seqscan": seqscan, "jit": jit})
    return PersonFacts(rows)

