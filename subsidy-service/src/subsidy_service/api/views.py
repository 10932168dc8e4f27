"""ORM rows -> response bodies, with Chinese labels."""

from __future__ import annotations

from skillkit.contracts.vocab import VOUCHER_KIND_LABELS, VoucherKind

from subsidy_service.adapters.models import ChainRow, Claim, PolicyTableRow, Recovery
from subsidy_service.api.schemas import (
    ChainOut,
    ClaimLineOut,
    ClaimOut,
    LinkOut,
    PolicyTableOut,
    PolicyTableSummary,
    ReasonOut,
    RecoveryOut,
)
from subsidy_service.domain.chain import ClaimState

STATE_LABELS = {
    ClaimState.WAITING: "待补全",
    ClaimState.ELIGIBLE: "可兑现",
    ClaimState.HELD: "待复核",
    ClaimState.REJECTED: "不予兑现",
    ClaimState.VOID: "已作废",
    ClaimState.DECLARED: "已申报",
    ClaimState.VERIFIED: "已验收",
    ClaimState.APPROVED: "已审批",
    ClaimState.PAID: "已支付",
    ClaimState.REFUSED: "验收不通过",
    ClaimState.EXPIRED: "逾期未兑现",
}
CLAIM_TYPE_LABELS = {"training": "培训补贴", "living_allowance": "生活费补贴", "evaluation": "评价补贴"}
CHAIN_STATUS_LABELS = {"complete": "链条完整", "waiting": "待补全", "held": "待复核", "broken": "链条中断"}
LINK_STATUS_LABELS = {"ok": "已满足", "missing": "待补全", "broken": "已中断", "not_required": "无需"}


def claim_view(claim: Claim) -> ClaimOut:
    return ClaimOut(
        id=claim.id,
        claim_type=claim.claim_type,
        claim_type_label=CLAIM_TYPE_LABELS.get(claim.claim_type, claim.claim_type),
        part=claim.part,
        person_key=claim.person_key,
        voucher_id=claim.voucher_id,
        certificate_id=claim.certificate_id,
        institution_id=claim.institution_id,
        payee_type=claim.payee_type,
        payee_id=claim.payee_id,
        kind=claim.kind,
        policy_year=claim.policy_year,
        table_year=claim.table_year,
        table_version=claim.table_version,
        amount=claim.amount,
        lines=[ClaimLineOut(**line) for line in claim.lines],
        rule_ids=claim.rule_ids,
        state=claim.state,
        state_label=STATE_LABELS.get(claim.state, claim.state),
        reason=ReasonOut(code=claim.reason_code, zh=claim.reason_zh or "", en=claim.reason_en or "")
        if claim.reason_code
        else None,
        missing=[ReasonOut(**m) for m in claim.missing],
        recovery_pending=claim.recovery_pending,
        created_at=claim.created_at,
        updated_at=claim.updated_at,
        eligible_at=claim.eligible_at,
        paid_at=claim.paid_at,
    )


def chain_view(chain: ChainRow, claims: list[Claim]) -> ChainOut:
    links = [
        LinkOut(
            name=link["name"], label=link["label"], status=link["status"],
            status_label=LINK_STATUS_LABELS.get(link["status"], link["status"]), event_ids=link["event_ids"],
            code=link["code"], zh=link["zh"], en=link["en"], note=link["note"],
        )
        for link in chain.links
    ]
    problems = [
        ReasonOut(code=link.code, zh=link.zh or "", en=link.en or "")
        for link in links
        if link.code and link.status != "ok" or (link.code and link.name == "limits")
    ]
    kind_label = VOUCHER_KIND_LABELS.get(VoucherKind(chain.kind)) if chain.kind else None
    return ChainOut(
        voucher_id=chain.voucher_id,
        kind=chain.kind,
        kind_label=kind_label,
        policy_year=chain.policy_year,
        enrolment_id=chain.enrolment_id,
        class_id=chain.class_id,
        institution_id=chain.institution_id,
        certificate_id=chain.certificate_id,
        status=chain.status,
        status_label=CHAIN_STATUS_LABELS.get(chain.status, chain.status),
        links=links,
        problems=problems,
        claims=[claim_view(c) for c in sorted(claims, key=lambda c: (c.claim_type, c.part))],
        updated_at=chain.updated_at,
    )


def recovery_view(r: Recovery) -> RecoveryOut:
    return RecoveryOut(
        id=r.id, claim_id=r.claim_id, person_key=r.person_key, payee_type=r.payee_type, payee_id=r.payee_id,
        amount=r.amount, reason=ReasonOut(code=r.reason_code, zh=r.reason_zh, en=r.reason_en), state=r.state,
        created_at=r.created_at,
    )


def policy_view(row: PolicyTableRow) -> PolicyTableOut:
    return PolicyTableOut(
        policy_year=row.policy_year, version=row.version, effective_from=row.effective_from,
        effective_to=row.effective_to, changed_by=row.changed_by, changed_at=row.changed_at, note=row.note,
        rules=row.body,
    )


def policy_summary(row: PolicyTableRow) -> PolicyTableSummary:
    return PolicyTableSummary(
        policy_year=row.policy_year, version=row.version, effective_from=row.effective_from,
        effective_to=row.effective_to, changed_by=row.changed_by, changed_at=row.changed_at, note=row.note,
    )
