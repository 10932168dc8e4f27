"""Event contracts of the platform, one module per producing service.

Importing this package registers every event type in `skillkit.events.registry`.
"""

from skillkit.contracts import certification, province, subsidy, training, voucher  # noqa: F401
from skillkit.contracts.topics import (  # noqa: F401
    ALL_TOPICS,
    CERTIFICATION_TOPIC,
    PROVINCE_INBOUND_TOPIC,
    PROVINCE_OUTBOUND_TOPIC,
    SUBSIDY_TOPIC,
    TRAINING_TOPIC,
    VOUCHER_TOPIC,
    dead_letter_topic,
)
