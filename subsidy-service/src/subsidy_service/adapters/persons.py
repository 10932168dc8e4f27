"""The worker projection (a `persons` row per registered or linked person) and the look-up of a person by the
account subject a worker signs in with. No commits here."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from skillkit.db import utcnow
from skillkit.inserts import dialect_insert

from subsidy_service.adapters.models import FactRow, Person
from subsidy_service.adapters.sql import member, per_dialect, run

WORKER_KINDS = ("worker", "account")  # the fact kinds the projection is built from (not the chain's)

facts_t = FactRow.__table__
persons_t = Person.__table__


_WORKER_FACTS = per_dialect(lambda d: select(
    facts_t.c.person_key, facts_t.c.kind, facts_t.c.event_time, facts_t.c.event_id, facts_t.c.data
).where(member(facts_t.c.person_key, "persons", d), facts_t.c.kind.in_(WORKER_KINDS)))
_ACCOUNT = ("account_subject", "account_event_at")
_REGISTRATION = ("worker_id", "masked_name", "township", "categories")


def _upsert_person(dialect: str, columns: tuple[str, ...]) -> Any:
    stmt = dialect_insert(dialect, persons_t)
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


async def person_of_subject(session: AsyncSession, subject: str) -> str | None:
    return await session.scalar(select(Person.person_key).where(Person.account_subject == subject).limit(1))
