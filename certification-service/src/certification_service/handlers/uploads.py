"""Bulk result upload (CSV or XLSX): every bad row is reported with its line number; good rows are applied.

Columns (header row first, Chinese or English names): 身份证号 / id_number, 理论成绩 / theory_score,
实操成绩 / practical_score, and optionally 是否合格 / passed (合格/不合格, 是/否, true/false, 1/0).
Reading the file (CSV in UTF-8 or GB18030, or XLSX) is the kit's `skillkit.roster`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.auth import Principal
from skillkit.county import local_date
from skillkit.db import utcnow
from skillkit.pii import PiiCipher, blind_index, normalise_resident_id
from skillkit.problems import Problem
from skillkit.roster import read_roster

from certification_service.adapters.models import Candidate, Evaluation
from certification_service.api.schemas import RowError, UploadOut
from certification_service.api.views import candidate_view
from certification_service.config import CertificationSettings
from certification_service.handlers.evaluations import record_result

COLUMNS = {
    "id_number": ("身份证号", "身份证号码"),
    "theory_score": "理论成绩",
    "practical_score": "实操成绩",
    "passed": "是否合格",
}
TRUE_WORDS = {"合格", "是", "通过", "true", "1", "yes", "y", "pass", "passed"}
FALSE_WORDS = {"不合格", "否", "未通过", "false", "0", "no", "n", "fail", "failed"}


def _passed(raw: Any) -> bool | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        return raw
    word = str(raw).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise Problem(422, "passed_invalid", f"passed {raw!r} is not one of 合格/不合格, true/false, 1/0")


async def apply_upload(
    session: AsyncSession,
    settings: CertificationSettings,
    principal: Principal,
    evaluation: Evaluation,
    filename: str,
    content: bytes,
) -> UploadOut:
    rows = read_roster(filename, content, COLUMNS, required={"id_number", "theory_score", "practical_score"})
    cipher = PiiCipher(settings.pii_encryption_key)
    applied: list[Candidate] = []
    errors: list[RowError] = []
    for row in rows:
        try:
            number = normalise_resident_id(row.values.get("id_number", ""), local_date(utcnow()))
            candidate = await session.scalar(
                select(Candidate).where(
                    Candidate.evaluation_id == evaluation.id,
                    Candidate.id_blind_index == blind_index(number, settings.blind_index_secret),
                )
            )
            if candidate is None:
                raise Problem(404, "candidate_not_found", "this ID number is not a candidate of this evaluation")
            await record_result(
                session,
                settings,
                principal,
                evaluation,
                candidate,
                row.values.get("theory_score") or None,
                row.values.get("practical_score") or None,
                _passed(row.values.get("passed")),
            )
            applied.append(candidate)
        except Problem as problem:
            errors.append(RowError(line=row.line, code=problem.code, detail=problem.detail))
    return UploadOut(
        applied=len(applied),
        rejected=len(errors),
        results=[candidate_view(c, cipher) for c in applied],
        row_errors=errors,
    )
