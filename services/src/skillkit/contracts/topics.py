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


# The CloudEvents `source` of the one producer that owns each topic (the services' outboxes write it; the province
# system, and its simulator, answer as PROVINCE_SOURCE). A consumer dead-letters an event on one of these topics
# whose source is another (issue 16): a compromised or misconfigured client that may write to a topic cannot pass
# its events off as another service's.
VOUCHER_SOURCE = "/linxian/voucher-service"
TRAINING_SOURCE = "/linxian/training-service"
CERTIFICATION_SOURCE = "/linxian/certification-service"
SUBSIDY_SOURCE = "/linxian/subsidy-service"
PROVINCE_SOURCE = "/province/realname"

TOPIC_PRODUCERS = {
    VOUCHER_TOPIC: VOUCHER_SOURCE,
    TRAINING_TOPIC: TRAINING_SOURCE,
    CERTIFICATION_TOPIC: CERTIFICATION_SOURCE,
    SUBSIDY_TOPIC: SUBSIDY_SOURCE,
    PROVINCE_OUTBOUND_TOPIC: TRAINING_SOURCE,
    PROVINCE_INBOUND_TOPIC: PROVINCE_SOURCE,
}

# What a consumer reads of one record before it is parsed; a larger record is dead-lettered undecoded (issue 16).
# The province's messages come from outside the platform: its largest, the answer to a sheet of a class's trainees
# (at most 1000 lines of ~250 bytes), fits in 512 KiB. Our own topics hold what our producers wrote (1 MiB, the
# broker's default message limit).
DEFAULT_MAX_EVENT_BYTES = 1024 * 1024
MAX_EVENT_BYTES = {PROVINCE_INBOUND_TOPIC: 512 * 1024}


def max_event_bytes(topic: str) -> int:
    return MAX_EVENT_BYTES.get(topic, DEFAULT_MAX_EVENT_BYTES)


def dead_letter_topic(consumer_group: str) -> str:
    return f"dlq.{consumer_group}.v1"
