"""Topic names: one per producing service, the province boundary, and a dead-letter topic per consumer group."""

VOUCHER_TOPIC = "skills.voucher.v1"
TRAINING_TOPIC = "skills.training.v1"
CERTIFICATION_TOPIC = "skills.certification.v1"
SUBSIDY_TOPIC = "skills.subsidy.v1"
PROVINCE_OUTBOUND_TOPIC = "province.realname.outbound.v1"
PROVINCE_INBOUND_TOPIC = "province.realname.inbound.v1"

ALL_TOPICS = (
    VOUCHER_TOPIC,
    TRAINING_TOPIC,
    CERTIFICATION_TOPIC,
    SUBSIDY_TOPIC,
    PROVINCE_OUTBOUND_TOPIC,
    PROVINCE_INBOUND_TOPIC,
)


def dead_letter_topic(consumer_group: str) -> str:
    return f"dlq.{consumer_group}.v1"
