"""Issue 16, key rotation: each ciphertext names its key id; rotation re-encrypts online in batches; an old key is
retired only when nothing uses it; the blind index keeps finding people throughout."""

from __future__ import annotations

import base64
import uuid

import pytest
from sqlalchemy import Uuid, bindparam, text

from skillkit.pii import PiiCipher, UnknownKeyId, cipher_for, key_id_of
from skillkit.rotate_keys import LEGACY, in_use, rotate, status
from skillkit.settings import DEV_PII_ENCRYPTION_KEY
from skillkit.testing.harness import running_service
from voucher_service.main import create
from voucher_service.rotate_keys import ENCRYPTED_COLUMNS

from tests.voucher.helpers import worker_body
from tests.voucher.ids import resident_id

NEW_KEY = base64.urlsafe_b64encode(bytes(range(32, 64))).decode()


def test_issue16_a_ciphertext_names_its_key_and_reads_only_with_it():
    old = PiiCipher(DEV_PII_ENCRYPTION_KEY, "k1")
    ring = PiiCipher(NEW_KEY, "k2", {"k1": DEV_PII_ENCRYPTION_KEY})
    written = old.encrypt("13812345678")
    assert key_id_of(written) == "k1" and ring.decrypt(written) == "13812345678"
    rotated = ring.rotate(written)
    assert key_id_of(rotated) == "k2" and ring.is_current(rotated) and not ring.is_current(written)
    legacy = written.removeprefix("k1:")  # as written before key ids: any key of the ring is tried
    assert key_id_of(legacy) is None and ring.decrypt(legacy) == "13812345678"
    with pytest.raises(UnknownKeyId, match="key id 'k1', which is not configured"):
        PiiCipher(NEW_KEY, "k2").decrypt(written)


async def columns_by_key(engine, cipher, known):
    return await status(engine, ENCRYPTED_COLUMNS, cipher, known)


async def test_issue16_rotation_reencrypts_online_in_batches_and_the_old_key_retires_when_unused(vs):
    staff = vs.headers("bureau", sub="staff-1")
    numbers = [resident_id(seq=f"{700 + i}") for i in range(3)]
    workers = []
    for i, number in enumerate(numbers):
        r = await vs.client.post("/v1/workers", json=worker_body(id_number=number, mobile=f"1380000000{i}"),
                                 headers=staff)
        workers.append(r.json())
    async with vs.sessionmaker() as session:  # one value as written before key ids existed
        await session.execute(text("UPDATE workers SET mobile_encrypted = substr(mobile_encrypted, 4) WHERE id = :id")
                              .bindparams(bindparam("id", type_=Uuid())), {"id": uuid.UUID(workers[0]["id"])})
        await session.commit()
    engine = vs.runtime.engine
    rotated_settings = vs.settings.model_copy(update={
        "pii_encryption_key": NEW_KEY, "pii_encryption_key_id": "k2", "pii_previous_keys": {"k1": DEV_PII_ENCRYPTION_KEY}})
    ring = cipher_for(rotated_settings)
    assert await columns_by_key(engine, ring, ["k2", "k1"]) == {
        "workers.id_number_encrypted": {"k2": 0, "k1": 3}, "workers.mobile_encrypted": {"k2": 0, "k1": 2, LEGACY: 1}}
    assert await in_use(engine, ENCRYPTED_COLUMNS, "k1") == {"workers.id_number_encrypted": 3,
                                                             "workers.mobile_encrypted": 3}

    # k1 dropped from the settings before the rotation: the service refuses to start (every read would fail)
    premature = rotated_settings.model_copy(update={"pii_previous_keys": {}})
    with pytest.raises(RuntimeError, match=r"key ids these settings do not hold \(workers.id_number_encrypted: 3, "
                                           r"workers.mobile_encrypted: 2\)"):
        async with running_service(create, premature, "voucher_service.migrations"):
            pass

    # the service restarted with the new key: it reads the old values and writes new ones under k2, while the
    # rotation runs beside it
    async with running_service(create, rotated_settings, "voucher_service.migrations") as replica:
        fourth = await replica.client.post("/v1/workers", json=worker_body(id_number=resident_id(seq="704")),
                                           headers=staff)
        assert fourth.status_code == 201
        report = await rotate(engine, ENCRYPTED_COLUMNS, ring, batch=2)
        assert (report.rotated, report.skipped) == (6, 0)
        assert (await rotate(engine, ENCRYPTED_COLUMNS, ring, batch=2)).rotated == 0  # nothing left
    assert await columns_by_key(engine, ring, ["k2", "k1"]) == {
        "workers.id_number_encrypted": {"k2": 4}, "workers.mobile_encrypted": {"k2": 4}}
    assert await in_use(engine, ENCRYPTED_COLUMNS, "k1") == {}

    # k1 retired: a service holding only k2 reads every value, and the blind index still finds each person
    retired = rotated_settings.model_copy(update={"pii_previous_keys": {}})
    async with running_service(create, retired, "voucher_service.migrations") as service:
        listed = (await service.client.get("/v1/workers?limit=10", headers=staff)).json()["items"]
        first_three = [w for w in listed if w["id"] != fourth.json()["id"]]
        assert sorted((w["id_number_masked"], w["mobile_masked"]) for w in first_three) == sorted(
            (n[:6] + "********" + n[-4:], f"138****000{i}") for i, n in enumerate(numbers))
        again = await service.client.post("/v1/workers", json=worker_body(id_number=numbers[1]), headers=staff)
        assert (again.status_code, again.json()["id"]) == (200, workers[1]["id"])


def test_issue16_every_encrypted_column_of_every_service_is_rotated():
    """A column named *_encrypted that the service's rotate_keys does not list would keep the old key forever."""
    from certification_service.adapters.models import Base as CertificationBase
    from certification_service.rotate_keys import ENCRYPTED_COLUMNS as certification
    from training_service.adapters.models import Base as TrainingBase
    from training_service.rotate_keys import ENCRYPTED_COLUMNS as training
    from voucher_service.adapters.models import Base as VoucherBase

    for base, listed in ((VoucherBase, ENCRYPTED_COLUMNS), (TrainingBase, training), (CertificationBase, certification)):
        encrypted = {(t.name, c.name) for t in base.metadata.tables.values() for c in t.columns
                     if c.name.endswith("_encrypted")}
        assert encrypted == {(c.table.name, c.name) for c in listed}
