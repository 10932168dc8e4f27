"""Bulk result upload (CSV or XLSX): every bad row is reported with its line number; good rows are applied.

Columns (header row first, Chinese or English names): 身份证号 / id_number, 理论成绩 / theory_score,
实操成绩 / practical_score, and optionally 是否合格 / passed (合格/不合格, 是/否, true/false, 1/0).
Reading the file (CSV in UTF-8 or GB18030, or XLSX) is the kit's `skillkit.roster`.

Set-based: one query for the candidates the file names, the rows applied in memory (in file order, so
a second row for the same candidate is `result_already_recorded`), one flush that updates them, and
one INSERT for all their events.

A number is looked up in its compact form first and fully validated only when it matches no candidate (to
report the precise reason): a candidate's number was validated when it was registered, so a match is the
same valid number, and the validation (its region lookup) was most of this upload's CPU.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import bindparam, select
from stdnum.cn import ric
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.audit import record
from skillkit.auth import Principal
from skillkit.county import local_date
from skillkit.db import utcnow
from skillkit.pii import blind_index, normalise_resident_id
from skillkit.problems import Problem
from skillkit.roster import read_roster

from certification_service.adapters.db import ROW_LOCK
from certification_service.adapters.models import Candidate, Evaluation
from certification_service.adapters.outbox import outbox
from certification_service.config import CertificationSettings
from certification_service.domain.uploads import NO_WORDS, YES_WORDS, UploadReport, yes_no
from certification_service.handlers.evaluations import apply_result

COLUMNS = {
    "id_number": ("身份证号", "身份证号码"),
    "theory_score": "理论成绩",
    "practical_score": "实操成绩",
    "passed": "是否合格",
}
# The evaluation's candidates the file names, built once (an expanding IN for the blind indexes). Locked, so
# that a concurrent upload or single result for the same candidate waits and then sees the result recorded;
# in id order, so that concurrent uploads naming the same candidates take their locks in one order (no deadlock).
_NAMED = (
    select(Candidate)
    .where(Candidate.evaluation_id == bindparam("evaluation_id"),
           Candidate.id_blind_index.in_(bindparam("indexes", expanding=True)))
    .order_by(Candidate.id)
    .with_for_update(**ROW_LOCK)
)
PASSED_WORDS = YES_WORDS | {"合格", "通过", "pass", "passed"}
FAILED_WORDS = NO_WORDS | {"不合格", "未通过", "fail", "failed"}


async def apply_upload(
    session: AsyncSession,
    settings: CertificationSettings,
    principal: Principal,
    evaluation: Evaluation,
    filename: str,
    content: bytes,
) -> UploadReport[tuple[Candidate, str]]:
    rows = await read_roster(filename, content, COLUMNS, required={"id_number", "theory_score", "practical_score"})
    report: UploadReport[tuple[Candidate, str]] = UploadReport()
    # the compact form normalise_resident_id returns for a valid number (upper case, separators removed)
    numbers = [ric.compact(row.values.get("id_number", "").upper()) for row in rows]
    indexes = [blind_index(number, settings.blind_index_secret) for number in numbers]
    candidates = {
        c.id_blind_index: c
        for c in await session.scalars(_NAMED, {"evaluation_id": evaluation.id, "indexes": list(set(indexes))})
    } if indexes else {}
    today = local_date(utcnow())
    events = []
    for row, number, index in zip(rows, numbers, indexes):
        try:
            candidate = candidates.get(index)
            if candidate is None:
                normalise_resident_id(row.values.get("id_number", ""), today)  # raises the precise reason if invalid
                raise Problem(404, "candidate_not_found", "this ID number is not a candidate of this evaluation")
            passed = yes_no(
                row.values.get("passed"), "passed", "passed_invalid", PASSED_WORDS, FAILED_WORDS, "合格/不合格, true/false, 1/0"
            )
            event = apply_result(
                settings,
                principal,
                evaluation,
                candidate,
                row.values.get("theory_score") or None,
                row.values.get("practical_score") or None,
                passed,
            )
        except Problem as problem:
            report.reject(row.line, problem)
            continue
        events.append((event, candidate.person_key, str(candidate.id)))
        report.applied.append((candidate, number))
    await session.flush()
    await outbox.add_many(session, events)
    # P10: one entry per upload; the results carry who recorded them, the file's digest names what was read.
    await record(session, principal, "evaluation.results_upload", "evaluation", str(evaluation.id), after=dict(
        file=filename, file_sha256=hashlib.sha256(content).hexdigest(), applied=len(report.applied),
        rejected=len(report.row_errors)))
    return report
