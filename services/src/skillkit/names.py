"""Names people and organisations give: refused when blank or when they hide characters (issue 16).

A whitespace-only name, or one holding control or format characters (a tab, a newline, a zero-width joiner, a
right-to-left override that makes `张三` display as something else), is refused with the field's 422 — on every
path a name comes in, the single endpoints and the roster rows alike, since both validate the same bodies.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator, StringConstraints


def visible_text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    hidden = sorted({f"U+{ord(c):04X}" for c in value if unicodedata.category(c).startswith("C")})
    if hidden:
        raise ValueError(f"must not contain control or format characters ({', '.join(hidden)})")
    return value


# A person's name as written on the ID card: Chinese characters, the middle dot of minority names, Latin letters.
PersonName = Annotated[str, StringConstraints(min_length=2, max_length=30, pattern=r"^[\u4e00-\u9fff·A-Za-z ]+$"),
                       AfterValidator(visible_text)]


def display_name(max_length: int, min_length: int = 1, *, strip: bool = True) -> Any:
    """The name of an institution, a class, a batch: any printable text, not blank."""
    return Annotated[str, StringConstraints(strip_whitespace=strip, min_length=min_length, max_length=max_length),
                     AfterValidator(visible_text)]
