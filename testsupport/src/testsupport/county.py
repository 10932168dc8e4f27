"""The plan of a county for the loop: people with valid identities (resident ids, mobiles, credit codes),
training and evaluation institutions, and classes."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from stdnum.cn import ric, uscc

from skillkit.county import COUNTY_TZ, local_date


E3_CATEGORIES = frozenset({"poverty_alleviated_labour", "monitored_household"})
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华玉萍红梅鑫波斌宇浩凯健俊帆帅旭宁龙林欣佳丹海晶燕飞鹏辉峰建国志"


# --- identities ------------------------------------------------------------------------------------------------


def resident_id(i: int) -> str:
    """The i-th distinct valid resident ID number of a Lin County person born 1975 or later.

    Births before 2003 carry the county's old region code 142325 (临县 of 吕梁地区), as real cards do.
    """
    birth = date(1975, 1, 1) + timedelta(days=(i // 900) * 7)
    region = "142325" if birth.year < 2003 else "141124"
    body = f"{region}{birth:%Y%m%d}{100 + i % 900:03d}"
    return body + ric.calc_check_digit(body + "0")


def person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def mobile(i: int) -> str:
    return f"139{i % 100_000_000:08d}"


def credit_code(kind: str, i: int) -> str:
    """A valid unified social credit code (GB 32100) in Lin County: 52 = private non-enterprise, 91 = company."""
    prefix = {"school": "52", "company": "91", "public": "12"}[kind]
    body = f"{prefix}141124MA{i:07d}"
    return body + uscc.calc_check_digit(body)


# --- the plan of a county --------------------------------------------------------------------------------------


@dataclass
class Trainee:
    name: str
    id_number: str
    township: str
    categories: list[str]
    attended_days: int
    passed: bool = True  # completion (结业) passed
    exam_passed: bool = True  # the evaluation (考评)
    employed: bool = False  # follow-up (S2)
    licensed: bool = False  # business licence within six months (S6)
    mobile: str = "13900000000"
    account: str = field(default_factory=lambda: str(uuid.uuid4()))
    # issue 13: the evidence township staff check the categories against, and a founder's licence date (E2)
    licence_issued_on: date | None = None
    # filled in as the loop runs
    worker_id: str | None = None
    voucher_id: str | None = None
    voucher_code: str | None = None
    enrolment_id: str | None = None
    candidate_id: str | None = None
    certificate_id: str | None = None
    certificate_no: str | None = None
    certificate_issued_at: float | None = None  # client clock when the batch issue answered (time.time())

    @property
    def living_allowance(self) -> bool:
        return bool(E3_CATEGORIES & set(self.categories))

    @property
    def evidence_reference(self) -> str:
        return f"{self.township}便民服务中心核验 {self.id_number[-4:]}"

    def licence_date(self) -> str:
        """E2: a founder's business licence, by default issued 90 days before today (well within the year)."""
        if "new_business_founder" not in self.categories:
            return ""
        return (self.licence_issued_on or county_today() - timedelta(days=90)).isoformat()


@dataclass
class Institution:
    key: str
    name: str
    township: str
    kinds: list[str]
    occupation_codes: list[str]
    credit_code: str
    id: str | None = None


@dataclass
class EvaluationInstitution:
    name: str
    credit_code: str
    filings: list[dict[str, Any]]
    id: str | None = None


@dataclass
class ClassPlan:
    institution: Institution
    name: str
    kind: str
    occupation_code: str
    planned_days: int
    trainees: list[Trainee]
    level: int | None = 5
    certificate_type: str = "skill_level"
    course: str | None = None
    project_reference: str | None = None
    outbound: bool = False
    employer: dict[str, Any] | None = None
    # S5: the enterprise whose employees an on-the-job class trains (name, credit_code); registered by the bureau
    # before the class opens, its id kept here (`enterprise_id`)
    enterprise: dict[str, Any] | None = None
    enterprise_id: str | None = None
    id: str | None = None
    evaluation_id: str | None = None
    outcome: dict[str, Any] | None = None
    start: date | None = None  # the class's first day (set when it opens)

    @property
    def earns_evaluation_subsidy(self) -> bool:
        return self.certificate_type != "entrepreneurship_training"


@dataclass
class County:
    institutions: list[Institution]
    evaluation_institution: EvaluationInstitution
    classes: list[ClassPlan]

    @property
    def trainees(self) -> list[Trainee]:
        return [t for c in self.classes for t in c.trainees]



def county_today() -> date:
    return local_date(datetime.now(COUNTY_TZ))
