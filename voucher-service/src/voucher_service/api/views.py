"""ORM rows -> response bodies. Resident ID numbers leave only masked."""

from __future__ import annotations

from types import SimpleNamespace

from skillkit.contracts.vocab import (
    CATEGORY_OFFICE_LABELS,
    CATEGORY_REVIEW_STATUS_LABELS,
    STAFF_SOURCE,
    VOUCHER_KIND_LABELS,
    WORKER_CATEGORY_LABELS,
    CategoryOffice,
    VoucherKind,
)
from skillkit.pii import PiiCipher, mask_mobile, mask_resident_id

from voucher_service.adapters.models import Voucher, Worker
from voucher_service.api.schemas import CategoryStateOut, VoucherOut, WorkerCategoriesOut, WorkerOut
from voucher_service.domain.codes import display_code
from voucher_service.handlers.categories import CategoryState

STATUS_LABELS = {
    "issued": "已发放",
    "bound": "已绑定培训",
    "in_training": "培训中",
    "completed": "已结业",
    "certified": "已取证",
    "redeemed": "已兑现",
    "expired": "已过期",
    "revoked": "已作废",
}


def worker_view(worker: Worker, cipher: PiiCipher, *, own: bool) -> WorkerOut:
    """`own`: the worker's own account is asking, the only caller that sees the mobile in full (issue 16); staff
    see it masked and may reveal it with a reason (POST /v1/workers/{id}/mobile-reveals, audited)."""
    mobile = cipher.decrypt(worker.mobile_encrypted)
    return WorkerOut(
        id=worker.id,
        name=worker.name,
        id_number_masked=mask_resident_id(cipher.decrypt(worker.id_number_encrypted)),
        mobile_masked=mask_mobile(mobile),
        mobile=mobile if own else None,
        township=worker.township,
        categories=worker.categories,
        on_behalf=worker.on_behalf,
        created_at=worker.created_at,
    )


def categories_view(worker: Worker, states: list[CategoryState]) -> WorkerCategoriesOut:
    def source_label(source: str | None) -> str | None:
        if source is None:
            return None
        return "乡镇或人社局工作人员核实" if source == STAFF_SOURCE else CATEGORY_OFFICE_LABELS[CategoryOffice(source)] + "名单"

    return WorkerCategoriesOut(worker_id=worker.id, categories=[CategoryStateOut(
        category=s.category, label=WORKER_CATEGORY_LABELS[s.category], status=s.status,
        status_label=CATEGORY_REVIEW_STATUS_LABELS[s.status], source=s.source, source_label=source_label(s.source),
        evidence_reference=s.evidence_reference, licence_issued_on=s.licence_issued_on, reviewed_by=s.reviewed_by,
        reviewed_at=s.reviewed_at) for s in states])


def voucher_view(voucher: Voucher | SimpleNamespace, qr_token: str) -> VoucherOut:
    """A voucher loaded by the ORM, or the row a roster issue just wrote."""
    return VoucherOut(
        id=voucher.id,
        code=voucher.code,
        display_code=display_code(voucher.code),
        kind=voucher.kind,
        kind_label=VOUCHER_KIND_LABELS[VoucherKind(voucher.kind)],
        status=voucher.status,
        status_label=STATUS_LABELS[voucher.status],
        policy_year=voucher.policy_year,
        valid_from=voucher.valid_from,
        valid_until=voucher.valid_until,
        worker_id=voucher.worker_id,
        batch_id=voucher.batch_id,
        channel=voucher.channel,
        enrolment_id=voucher.enrolment_id,
        class_id=voucher.class_id,
        revoked_reason=voucher.revoked_reason,
        qr_token=qr_token,
    )
