"""Categories on evidence (issue 13): which office's register may confirm which category, and the checks a review
must pass. Pure rules, no I/O."""

from __future__ import annotations

from datetime import date

from skillkit.contracts.vocab import CategoryOffice as O, WorkerCategory as C

# The office that keeps the register of each category (E1–E3): only its roster confirms the category in bulk.
# Staff may confirm any category one by one, on evidence they saw (source `staff`).
OFFICE_CATEGORIES: dict[O, frozenset[C]] = {
    # E1 脱贫人口, E3 脱贫劳动力 and 监测户: the poverty-alleviation list
    O.RURAL_REVITALISATION: frozenset({C.POVERTY_ALLEVIATED, C.POVERTY_ALLEVIATED_LABOUR, C.MONITORED_HOUSEHOLD}),
    # E1: the unemployment register, the employment-difficulty determinations, the migrant-work ledger; E2 返乡创业
    O.EMPLOYMENT_SERVICE: frozenset({C.URBAN_UNEMPLOYED, C.EMPLOYMENT_DIFFICULTY, C.RURAL_MIGRANT,
                                     C.RETURNING_ENTREPRENEUR}),
    # E1 graduates and school leavers; E7 secondary vocational students
    O.EDUCATION: frozenset({C.GRADUATING_COLLEGE, C.SCHOOL_LEAVER, C.VOCATIONAL_STUDENT}),
    # E2: founders, with their business licence's issue date
    O.MARKET_REGULATION: frozenset({C.NEW_BUSINESS_FOUNDER}),
}


class ReviewRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def check_office(office: O, category: C) -> None:
    if category not in OFFICE_CATEGORIES[office]:
        raise ReviewRefused("category_not_kept_by_office",
                            f"the {office} office keeps no register of {category}: its rosters confirm "
                            + ", ".join(sorted(OFFICE_CATEGORIES[office])))


def check_licence(categories: set[C], licence_issued_on: date | None, today: date) -> None:
    """E2: a founder is confirmed with the issue date of their business licence (the subsidy chain checks it is less
    than a year before the enrolment); other categories carry none."""
    if C.NEW_BUSINESS_FOUNDER in categories:
        if licence_issued_on is None:
            raise ReviewRefused("founder_licence_date_missing",
                                "E2: confirming new_business_founder needs licence_issued_on, the business "
                                "licence's issue date")
        if licence_issued_on > today:
            raise ReviewRefused("founder_licence_date_future",
                                f"E2: the business licence's issue date {licence_issued_on} is in the future")
    elif licence_issued_on is not None:
        raise ReviewRefused("licence_date_without_founder",
                            "licence_issued_on belongs to the new_business_founder category only")
