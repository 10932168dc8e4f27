"""The fact store, the worker projection and the policy tables of the subsidy service. No commits here.

The statements on the consumer's hot path are built once, here at import (per dialect, see `sql.py`), and
executed with bound parameters (list parameters, executemany): SQLAlchemy compiles each of them once per
engine instead of building, hashing and compiling a new statement per event.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import timezone
from typing import Any, Iterable

from sqlalchemy import Text, any_, bindparam, cast, func, select, text, tuple_, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from skillkit.db import utcnow

from subsidy_service.adapters.locks import CLASS_KINDS, LINKING_KINDS
from subsidy_service.adapters.models import FactRow, Person, PolicyTableRow
from subsidy_service.adapters.sql import member, per_dialect, run
from subsidy_service.domain.facts import Fact, FactSet, payload_of
from subsidy_service.domain.policy import Policies, PolicyTable, default_2023

WORKER_KINDS = ("worker", "account")

facts_t = FactRow.__table__
persons_t = Person.__table__
tables_t = PolicyTableRow.__table__

INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


# --- facts -------------------------------------------------------------------------------------------------

# The persons linked to the scopes of a batch's person-less facts (read after the scope locks are held).
_AFFECTED = per_dialect(lambda d: select(
    facts_t.c.person_key, facts_t.c.kind, facts_t.c.class_id, facts_t.c.enrolment_id, facts_t.c.institution_id
).where(
    facts_t.c.person_key.is_not(None),
    (
        facts_t.c.kind.in_(LINKING_KINDS)
        & (
            member(facts_t.c.class_id, "classes", d)
            | member(facts_t.c.enrolment_id, "enrolments", d)
            | member(facts_t.c.institution_id, "institutions", d)
        )
    )
    | ((facts_t.c.kind == "certificate") & member(facts_t.c.institution_id, "evaluators", d)),
))


def scope_field(fact: Fact) -> tuple[str, str] | None:
    """(the linking fact's column, value) that ties persons to a person-less fact; None for a person's own."""
    if fact.person_key:
        return None
    if fact.kind in CLASS_KINDS or (fact.kind == "realname" and not fact.field("enrolment_id")):
        return "class_id", fact.field("class_id")
    if fact.kind == "realname":
        return "enrolment_id", fact.field("enrolment_id")
    if fact.kind == "suspended":
        return "institution_id", fact.field("institution_id")
    if fact.kind == "evaluation_institution":
        return "evaluator", fact.field("institution_id")
    return None


async def affected_persons(conn: AsyncConnection, facts: Iterable[Fact]) -> dict[tuple[str, str], set[str]]:
    """For each person-less fact (by kind, key): the persons whose chains it can change. One query."""
    scoped = {(f.kind, f.key): scope for f in facts if (scope := scope_field(f)) is not None}
    if not scoped:
        return {}
    wanted: dict[str, set[str]] = {"class_id": set(), "enrolment_id": set(), "institution_id": set(), "evaluator": set()}
    for column, value in scoped.values():
        wanted[column].add(value)
    rows = await run(conn, _AFFECTED, {
        "classes": sorted(wanted["class_id"]), "enrolments": sorted(wanted["enrolment_id"]),
        "institutions": sorted(wanted["institution_id"]), "evaluators": sorted(wanted["evaluator"]),
    })
    linked: dict[tuple[str, str], set[str]] = defaultdict(set)
    for person, kind, class_id, enrolment_id, institution_id in rows:
        if kind == "certificate":
            linked["evaluator", institution_id].add(person)
            continue
        for column, value in (("class_id", class_id), ("enrolment_id", enrolment_id), ("institution_id", institution_id)):
            if value is not None:
                linked[column, value].add(person)
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
    stmt = INSERTS["sqlite"](facts_t).values({
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


_WORKER_FACTS = per_dialect(lambda d: select(
    facts_t.c.person_key, facts_t.c.kind, facts_t.c.event_time, facts_t.c.event_id, facts_t.c.data
).where(member(facts_t.c.person_key, "persons", d), facts_t.c.kind.in_(WORKER_KINDS)))
_ACCOUNT = ("account_subject", "account_event_at")
_REGISTRATION = ("worker_id", "masked_name", "township", "categories")


def _upsert_person(dialect: str, columns: tuple[str, ...]) -> Any:
    stmt = INSERTS[dialect](persons_t)
    return stmt.on_conflict_do_update(
        index_elements=["person_key"], set_={c: stmt.excluded[c] for c in (*columns, "updated_at")}
    )


# one statement per set of columns a person's facts provide
_UPSERT_PERSON = {
    columns: per_dialect(lambda d, columns=columns: _upsert_person(d, columns))
    for columns in (_ACCOUNT, _REGISTRATION, _ACCOUNT + _REGISTRATION)
}


async def project_workers(conn: AsyncConnection, person_keys: Iterable[str]) -> None:
    """The worker projection (a `persons` row per registered or linked person): the newest account subject
    of each person (registration or a later link) and the newest registration's worker id, masked name,
    township and categories."""
    keys = sorted(set(person_keys))
    if not keys:
        return
    versions: dict[str, list[tuple[Any, str, dict[str, Any]]]] = defaultdict(list)
    for person, kind, event_time, event_id, data in await run(conn, _WORKER_FACTS, {"persons": keys}):
        versions[person].append(((event_time, event_id), kind, data))
    now = utcnow()
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for key in keys:
        row: dict[str, Any] = {"person_key": key, "updated_at": now}
        columns: tuple[str, ...] = ()
        with_subject = [v for v in versions[key] if v[2].get("account_subject")]
        if with_subject:
            (event_time, _), _, data = max(with_subject, key=lambda v: v[0])
            row.update(account_subject=data["account_subject"], account_event_at=event_time)
            columns += _ACCOUNT
        registered = [v for v in versions[key] if v[1] == "worker"]
        if registered:
            data = max(registered, key=lambda v: v[0])[2]
            row.update(worker_id=data["worker_id"], masked_name=data["masked_name"], township=data["township"],
                       categories=data["categories"])
            columns += _REGISTRATION
        if columns:
            by_columns[columns].append(row)
    for columns, rows in by_columns.items():
        await run(conn, _UPSERT_PERSON[columns], rows)


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
    own = select(facts_t.c.class_id, facts_t.c.enrolment_id, facts_t.c.institution_id).where(
        member(facts_t.c.person_key, "persons", dialect)
    ).cte("own")
    around = union_all(
        select(*_fact_columns).where(member(facts_t.c.person_key, "persons", dialect)),
        select(*_fact_columns).where(
            _among(facts_t.c.class_id, own.c.class_id, dialect),
            facts_t.c.kind.in_((*CLASS_KINDS, "realname")),
            facts_t.c.person_key.is_(None),
        ),
        select(*_fact_columns).where(
            _among(facts_t.c.enrolment_id, own.c.enrolment_id, dialect),
            facts_t.c.kind == "realname",
            facts_t.c.person_key.is_(None),
        ),
        # a training fact's institution may be suspended; a certificate's is the evaluation institution
        select(*_fact_columns).where(
            _among(facts_t.c.institution_id, own.c.institution_id, dialect),
            facts_t.c.kind.in_(("suspended", "evaluation_institution")),
        ),
    ).subquery("around")
    return select(
        around,
        select(func.count()).select_from(tables_t).scalar_subquery().label("tables_count"),
        select(func.max(tables_t.c.changed_at)).scalar_subquery().label("tables_changed"),
    )


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
                if row.class_id is not None:
                    ids.add(("class_id", row.class_id))
                if row.enrolment_id is not None:
                    ids.add(("enrolment_id", row.enrolment_id))
                if row.institution_id is not None:
                    ids.add(("institution_id", row.institution_id))
            # the same selection as the query's context branches, so each person gets exactly those
            elif row.kind in CLASS_KINDS or row.kind == "realname":
                self._around["class_id", row.class_id].append(fact)
                if row.kind == "realname" and row.enrolment_id is not None:
                    self._around["enrolment_id", row.enrolment_id].append(fact)
            if row.kind in ("suspended", "evaluation_institution"):
                self._around["institution_id", row.institution_id].append(fact)
        self.stamp = (rows[0].tables_count, rows[0].tables_changed) if rows else None

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


# --- policy tables -----------------------------------------------------------------------------------------

_TABLES_STAMP = select(func.count(), func.max(tables_t.c.changed_at)).select_from(tables_t)
_ALL_TABLES = select(tables_t)

# The parsed tables of the last stamp seen, per database. Versions are only ever added (never changed or
# deleted), so (row count, newest changed_at) changes with every publication, in any process. A stamp read
# inside a PUT's own transaction that then rolls back never recurs, so it is never matched again.
_POLICIES: dict[Any, tuple[Any, Policies]] = {}


async def policies(conn: AsyncConnection, stamp: tuple[int, Any] | None = None) -> Policies:
    """Every stored table version, parsed once per stamp; `stamp` when the caller already read it."""
    if stamp is None:
        stamp = tuple((await conn.execute(_TABLES_STAMP)).one())
    cached = _POLICIES.get(conn.engine.url)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    parsed = Policies([table_of(row) for row in await conn.execute(_ALL_TABLES)])
    _POLICIES[conn.engine.url] = (stamp, parsed)
    return parsed


def table_of(row: Any) -> PolicyTable:
    return PolicyTable.model_validate(
        {**row.body, "policy_year": row.policy_year, "version": row.version,
         "effective_from": row.effective_from, "effective_to": row.effective_to, "changed_by": row.changed_by}
    )


async def ensure_default_tables(session: AsyncSession) -> bool:
    """Seeds the 2023 table of RULES.md as version 1 when it is not there; True when it seeded."""
    if await session.get(PolicyTableRow, (2023, 1)) is not None:
        return False
    table = default_2023()
    session.add(
        PolicyTableRow(
            policy_year=table.policy_year,
            version=table.version,
            effective_from=table.effective_from,
            effective_to=table.effective_to,
            body=table.rule_values(),
            changed_by="system:RULES.md",
            changed_at=utcnow(),
            note="临技能办发〔2023〕1号 (RULES.md)",
        )
    )
    await session.flush()
    return True


async def person_of_subject(session: AsyncSession, subject: str) -> str | None:
    return await session.scalar(select(Person.person_key).where(Person.account_subject == subject).limit(1))
