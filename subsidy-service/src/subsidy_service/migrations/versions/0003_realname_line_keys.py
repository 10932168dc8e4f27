"""realname facts keyed by submission and enrolment (P1 sheet answers)

The province answers a trainee or completion sheet with a verdict per line, and each line is a fact of its
own: a real-name fact about one trainee is now keyed `submission_id|enrolment_id` (a class record stays
`submission_id`). Facts stored before were keyed by the submission alone; rekeying them keeps one row per
answer (a redelivered old answer updates its row instead of adding a second one) and lets the parse cache
match them (it is keyed by event id and natural key).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 22:40:00
"""

from typing import Sequence, Union

from alembic import op


revision: str = '0003'
down_revision: Union[str, None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.execute(
        "UPDATE facts SET key = key || '|' || enrolment_id"
        " WHERE kind = 'realname' AND enrolment_id IS NOT NULL AND key = data ->> 'submission_id'"
        if op.get_bind().dialect.name == "postgresql" else
        "UPDATE facts SET key = key || '|' || enrolment_id"
        " WHERE kind = 'realname' AND enrolment_id IS NOT NULL AND key = json_extract(data, '$.submission_id')"
    )


def downgrade() -> None:
    # Nothing to undo safely: the lines of one sheet share a submission id, so they cannot go back to being
    # keyed by it alone. The older code reads these keys as opaque (it keys its facts from the payload).
    pass
