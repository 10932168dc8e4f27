"""Valid and invalid resident ID numbers for tests (Lin County region code 141124, born after 2003)."""

from stdnum.cn import ric


def resident_id(birth: str = "20050101", seq: str = "123") -> str:
    body = "141124" + birth + seq
    return body + ric.calc_check_digit(body + "0")


def with_wrong_check_digit(number: str) -> str:
    wrong = "0" if number[-1] != "0" else "1"
    return number[:-1] + wrong
