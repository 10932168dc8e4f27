"""Reference data for a development platform (`make run SEED=1`): what a newcomer needs to walk the whole loop.

Through the services' own REST APIs with development staff tokens, as the bureau and the institutions would enter
it (so every event flows as in real use): two training institutions, a class at each that runs over today (its
first days are behind us, so attendance can be entered; it is open, so it is in the workers' catalogue), an
evaluation centre filed for the classes' occupations, and this year's policy table. The occupation catalogue is
imported by the training service itself at start-up. Seeding again changes nothing (each call carries a fixed
Idempotency-Key; a class is seeded once per county day). Refused with production settings.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from stdnum.cn import uscc

from skillkit.auth import Role, mint_token
from skillkit.county import local_date
from skillkit.db import utcnow
from skillkit.settings import ServiceSettings

CAREGIVER = "4-10-01-05"  # 养老护理员
COOK = "4-03-02-01"  # 中式烹调师


def credit_code(prefix: str, i: int) -> str:
    """A valid unified social credit code (GB 32100) of a Lin County organisation."""
    body = f"{prefix}141124MA{i:07d}"
    return body + uscc.calc_check_digit(body)


INSTITUTIONS = [
    {"name": "临县技工学校", "credit_code": credit_code("52", 1), "address": "临县临泉镇新城路1号", "township": "临泉镇",
     "contact_name": "王老师", "contact_phone": "13800000001", "kinds": ["inclusive", "order"],
     "occupation_codes": [CAREGIVER, COOK]},
    {"name": "白文镇职业培训学校", "credit_code": credit_code("52", 2), "address": "临县白文镇政府街8号",
     "township": "白文镇", "contact_name": "刘老师", "contact_phone": "13800000002", "kinds": ["inclusive"],
     "occupation_codes": [COOK]},
]
EVALUATION_CENTRE = {"name": "临县职业技能评价中心", "credit_code": credit_code("12", 3), "filings": [
    {"occupation_code": CAREGIVER, "level": 5, "certificate_type": "skill_level"},
    {"occupation_code": COOK, "level": 5, "certificate_type": "skill_level"},
]}


@dataclass(frozen=True)
class Urls:
    voucher: str = "http://127.0.0.1:8001"
    training: str = "http://127.0.0.1:8002"
    certification: str = "http://127.0.0.1:8003"
    subsidy: str = "http://127.0.0.1:8004"


def _call(method: str, url: str, token: str, body: Any = None, key: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def _ok(status: int, body: Any, what: str) -> Any:
    if status >= 400:
        raise RuntimeError(f"seeding {what}: {status} {body}")
    return body


def seed(urls: Urls = Urls(), settings: ServiceSettings | None = None) -> dict[str, Any]:
    settings = settings or ServiceSettings()
    if settings.environment == "production":
        raise RuntimeError("refusing to seed development data with production settings")
    bureau = mint_token(settings, Role.BUREAU, "seed-bureau")
    today = local_date(utcnow())
    seeded: dict[str, Any] = {"institutions": [], "classes": []}

    listed = _ok(*_call("GET", f"{urls.training}/v1/institutions?limit=200", bureau), "institutions")["items"]
    known = {i["credit_code"]: i for i in listed}
    for body in INSTITUTIONS:
        institution = known.get(body["credit_code"]) or _ok(*_call(
            "POST", f"{urls.training}/v1/institutions", bureau, body, key=f"seed-institution-{body['credit_code']}"),
            body["name"])
        seeded["institutions"].append(institution)
        org = mint_token(settings, Role.TRAINING_ORG, "seed-teacher", org_id=institution["id"])
        # 5 planned days from today to six days ahead: the class is open, so workers find it, and a trainee enrolled
        # today may be checked in on its days (no back-dated training: not on a day before the enrolment)
        start, end = today, today + timedelta(days=6)
        occupation = body["occupation_codes"][0]
        klass = {"name": f"{today:%m月%d日}开班 · {'养老护理员' if occupation == CAREGIVER else '中式烹调师'}普惠制培训班",
                 "kind": "inclusive", "occupation_code": occupation, "level": 5, "start_date": start.isoformat(),
                 "end_date": end.isoformat(), "planned_days": 5, "capacity": 30,
                 "venue": f"{body['name']}实训楼", "teachers": ["李老师"],
                 "teaching_plan_ref": f"TP-{today:%Y%m%d}", "assessment_plan_ref": f"AP-{today:%Y%m%d}"}
        seeded["classes"].append(_ok(*_call("POST", f"{urls.training}/v1/classes", org, klass,
                                            key=f"seed-class-{institution['id']}-{today.isoformat()}"), klass["name"]))

    listed = _ok(*_call("GET", f"{urls.certification}/v1/evaluation-institutions?limit=200", bureau),
                 "evaluation institutions")["items"]
    centre = next((i for i in listed if i["credit_code"] == EVALUATION_CENTRE["credit_code"]), None)
    seeded["evaluation_centre"] = centre or _ok(*_call(
        "POST", f"{urls.certification}/v1/evaluation-institutions", bureau, EVALUATION_CENTRE,
        key="seed-evaluation-centre"), EVALUATION_CENTRE["name"])

    # this year's table as RULES.md's values (S1–S8); the bureau changes it with another PUT
    seeded["policy_table"] = _ok(*_call("PUT", f"{urls.subsidy}/v1/policy-tables/{today.year}", bureau, {},
                                        key=f"seed-policy-{today.year}"), "policy table")
    return seeded


def main() -> None:
    seeded = seed()
    for institution, klass in zip(seeded["institutions"], seeded["classes"]):
        print(f"  seeded {institution['name']} ({institution['township']}): class {klass['name']}")
    print(f"  seeded {seeded['evaluation_centre']['name']} and the {seeded['policy_table']['policy_year']} policy table")


if __name__ == "__main__":
    sys.exit(main())
