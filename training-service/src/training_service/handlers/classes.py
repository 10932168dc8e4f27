"""Classes (开班): opening (S1 days, I3 status), order-class approval (S2)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.audit import record
from skillkit.auth import Principal
from skillkit.commands import Outcome
from skillkit.contracts.training import ClassApproved, ClassOpened
from skillkit.contracts.vocab import VoucherKind
from skillkit.county import policy_year_of
from skillkit.db import utcnow
from training_service import clock
from skillkit.problems import Problem, not_found

from training_service.adapters.models import Occupation, OccupationLevel, TrainingClass
from training_service.adapters.outbox import outbox
from training_service.config import TrainingSettings
from training_service.handlers.inputs import ClassDecisionIn, ClassIn
from training_service.domain.rules import check_class_plan, credit_code_or_problem
from training_service.handlers import province
from training_service.handlers.common import institution_of
from training_service.handlers.enterprises import enterprise_for_class


async def open_class(
    session: AsyncSession, settings: TrainingSettings, principal: Principal, data: ClassIn
) -> TrainingClass:
    institution = await institution_of(session, principal)
    if institution.status != "approved":
        raise Problem(409, "institution_not_approved", f"I3: the institution is {institution.status}; it opens no class")
    if str(data.kind) not in institution.kinds:
        raise Problem(403, "institution_not_approved_for_kind", f"the institution is not approved for {data.kind} training")
    if data.occupation_code not in institution.occupation_codes:
        raise Problem(
            403, "institution_not_approved_for_occupation",
            f"the institution is not approved for occupation {data.occupation_code}",
        )
    if await session.get(Occupation, data.occupation_code) is None:
        raise Problem(422, "occupation_unknown", f"occupation {data.occupation_code} is not in the catalogue")
    level = None
    if data.level is not None:
        level = await session.get(OccupationLevel, (data.occupation_code, data.level))
        if level is None:
            raise Problem(422, "occupation_level_unknown",
                          f"the catalogue has no level {data.level} for occupation {data.occupation_code}")
    elif data.kind == VoucherKind.ORDER:
        raise Problem(422, "level_required", "S2: an order class names its level (its subsidised-day limit)")
    unusual_days = check_class_plan(data.kind, data.start_date, data.end_date, data.planned_days,
                                    level.min_training_days if level else None, plan_year=policy_year_of(clock.now()),
                                    days_reason=data.days_reason)
    enterprise = await enterprise_for_class(session, data.enterprise_id)  # S5
    order = data.order
    employer_credit_code = credit_code_or_problem(order.credit_code, "employer_credit_code") if order else None
    # S2: bureau approval and filing before it opens; S1: an inclusive class outside 3–10 days, with its reason
    needs_approval = data.kind == VoucherKind.ORDER or unusual_days
    training_class = TrainingClass(
        id=uuid.uuid4(),
        institution_id=institution.id,
        name=data.name,
        kind=str(data.kind),
        course=str(data.course) if data.course else None,
        occupation_code=data.occupation_code,
        level=data.level,
        start_date=data.start_date,
        end_date=data.end_date,
        planned_days=data.planned_days,
        capacity=data.capacity,
        seats_taken=0,
        venue=data.venue,
        teachers=list(data.teachers),
        teaching_plan_ref=data.teaching_plan_ref,
        assessment_plan_ref=data.assessment_plan_ref,
        outbound=data.outbound,
        project_reference=data.project_reference,
        enterprise_id=enterprise.id if enterprise else None,
        days_reason=data.days_reason,
        funded_by_department=data.funded_by_department,  # S9
        subsidised_day_limit=level.subsidised_day_limit if level else None,
        employer=order.employer if order else None,
        employer_credit_code=employer_credit_code,
        positions_promised=order.positions_promised if order else None,
        status="pending_approval" if needs_approval else "open",
        created_by=principal.subject,
        created_at=utcnow(),
    )
    session.add(training_class)
    await session.flush()
    await outbox.add(
        session,
        ClassOpened(
            class_id=str(training_class.id),
            institution_id=str(institution.id),
            kind=data.kind,
            course=data.course,
            occupation_code=data.occupation_code,
            level=data.level,
            start_date=data.start_date,
            end_date=data.end_date,
            planned_days=data.planned_days,
            capacity=data.capacity,
            outbound=data.outbound,
            subsidised_day_limit=training_class.subsidised_day_limit,
            project_reference=data.project_reference,
            enterprise_id=str(enterprise.id) if enterprise else None,
            days_reason=data.days_reason,
            funded_by_department=data.funded_by_department,  # S9: record only, the subsidy chain pays nothing
            needs_approval=needs_approval,
            status=training_class.status,
        ),
        partition_key=str(training_class.id),
        subject=str(training_class.id),
    )
    if not needs_approval:
        await province.submit_class(session, settings, training_class)  # P1
    # P10: the institution files the class (an order class then waits for the bureau's decision, S2).
    await record(session, principal, "class.open", "training_class", str(training_class.id), after=dict(
        institution_id=institution.id, name=training_class.name, kind=training_class.kind,
        occupation_code=training_class.occupation_code, level=training_class.level,
        start_date=training_class.start_date, end_date=training_class.end_date,
        planned_days=training_class.planned_days, capacity=training_class.capacity,
        employer_credit_code=training_class.employer_credit_code,
        positions_promised=training_class.positions_promised, status=training_class.status,
        # S9: the department paying from its own funds, named only when there is one (an ordinary entry unchanged)
        **({"funded_by_department": training_class.funded_by_department} if training_class.funded_by_department
           else {})))
    return training_class


async def decide_class(
    session: AsyncSession, settings: TrainingSettings, principal: Principal, class_id: uuid.UUID, data: ClassDecisionIn
) -> Outcome:
    """S2: the bureau approves (审核备案) or rejects an order class — S1: an inclusive class planned outside 3–10 days;
    only then may it enrol."""
    training_class = await session.get(TrainingClass, class_id)
    if training_class is None:
        raise not_found("class", class_id)
    if training_class.status != "pending_approval":
        raise Problem(409, "class_not_pending_approval", f"the class is {training_class.status}, not pending approval")
    before = dict(status=training_class.status)
    training_class.status = "open" if data.approved else "rejected"
    training_class.decision_reason = data.reason
    training_class.decided_by = principal.subject  # P10
    training_class.decided_at = clock.now()  # check-ins before this day are refused
    await outbox.add(
        session,
        ClassApproved(class_id=str(training_class.id), approved=data.approved, reason=data.reason,
                      decided_by=principal.subject),
        partition_key=str(training_class.id),
        subject=str(training_class.id),
    )
    if data.approved:
        await province.submit_class(session, settings, training_class)  # P1
    await record(session, principal, "class.approve" if data.approved else "class.reject", "training_class",
                 str(training_class.id), before=before,
                 after=dict(status=training_class.status, decision_reason=data.reason), reason=data.reason)
    return Outcome(training_class, 200)
