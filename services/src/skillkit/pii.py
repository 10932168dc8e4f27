"""Personal data: resident ID numbers, person keys, encryption, masking.

The person key (an HMAC of the normalised resident ID number) is the only identity that crosses
service boundaries: it partitions every topic and never reveals the number itself.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date
from functools import lru_cache
from typing import Any, Mapping

from cryptography.fernet import Fernet, MultiFernet
from stdnum.cn import ric
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength, ValidationError

from skillkit.problems import Problem


class InvalidResidentId(Problem):
    """A 422 problem with the precise reason (code + English message): bad input changes nothing."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(422, code, message)


def normalise_resident_id(raw: str, today: date) -> str:
    """Validate a GB 11643 resident ID number and return its compact upper-case form."""
    try:
        number = _validate(raw.upper())
    except InvalidChecksum as exc:
        raise InvalidResidentId("id_number_check_digit", "resident ID number check digit is wrong") from exc
    except InvalidLength as exc:
        raise InvalidResidentId("id_number_length", "resident ID number must have 18 characters") from exc
    except InvalidFormat as exc:
        raise InvalidResidentId("id_number_format", "resident ID number must be 17 digits and a digit or X") from exc
    except InvalidComponent as exc:
        raise InvalidResidentId(
            "id_number_component", "resident ID number has an impossible birth date or an unknown region code"
        ) from exc
    except ValidationError as exc:
        raise InvalidResidentId("id_number_invalid", "resident ID number is not valid") from exc
    if ric.get_birth_date(number) > today:
        raise InvalidResidentId("id_number_future_birth_date", "resident ID number has a birth date in the future")
    return number


def _validate(raw: str) -> str:
    """python-stdnum's `ric.validate`, with its region lookup (three quarters of its time) remembered per
    region code and birth year — the only inputs it depends on; nothing personal is kept."""
    number = ric.compact(raw)
    if len(number) != 18:
        raise InvalidLength()
    if not number[:-1].isdigit() or not number[:-1].isascii():
        raise InvalidFormat()
    if number[-1] != ric.calc_check_digit(number):
        raise InvalidChecksum()
    ric.get_birth_date(number)
    key = (number[:6], number[6:10])
    known = _REGIONS.get(key)
    if known is None:
        try:
            ric.get_birth_place(number)
            known = True
        except InvalidComponent:
            known = False
        if len(_REGIONS) >= 50_000:
            _REGIONS.clear()
        _REGIONS[key] = known
    if not known:
        raise InvalidComponent()
    return number


_REGIONS: dict[tuple[str, str], bool] = {}  # (region code, birth year) -> assigned at that time


def birth_date_of(number: str) -> date:
    return ric.get_birth_date(number)


def person_key(normalised_id: str, secret: str) -> str:
    """HMAC-SHA256 of the normalised ID number: the platform-wide pseudonymous person identity."""
    return hmac.new(secret.encode(), normalised_id.encode(), hashlib.sha256).hexdigest()


def blind_index(normalised_id: str, secret: str) -> str:
    """A service-local keyed lookup index, separate from the person key so that the two can rotate apart."""
    return hmac.new(secret.encode(), b"blind-index:" + normalised_id.encode(), hashlib.sha256).hexdigest()


DEFAULT_KEY_ID = "k1"
KEY_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,15}$"


class PiiCipher:
    """Fernet encryption of personal data at rest, under a key ring (issue 16, key rotation).

    A ciphertext is `<key id>:<Fernet token>` (Fernet tokens are url-safe base64: no colon), so each value names
    the key that reads it and `python -m skillkit.rotate_keys` can find and re-encrypt the values of an old key
    before that key is retired. Values written before key ids existed carry no prefix; they are read with the
    current or any previous key (Fernet authenticates, so the wrong key fails instead of giving garbage)."""

    def __init__(self, key: str, key_id: str = DEFAULT_KEY_ID, previous: Mapping[str, str] | None = None) -> None:
        self.key_id = key_id
        self._fernet = Fernet(key.encode())
        self._keys = {key_id: self._fernet, **{kid: Fernet(k.encode()) for kid, k in (previous or {}).items()}}
        self._any = MultiFernet(list(self._keys.values()))

    def encrypt(self, plaintext: str) -> str:
        return f"{self.key_id}:{self._fernet.encrypt(plaintext.encode()).decode()}"

    def decrypt(self, value: str) -> str:
        key_id, separator, token = value.partition(":")
        if not separator:  # written before key ids: any key of the ring
            return self._any.decrypt(value.encode()).decode()
        fernet = self._keys.get(key_id)
        if fernet is None:
            raise UnknownKeyId(key_id)
        return fernet.decrypt(token.encode()).decode()

    def is_current(self, value: str) -> bool:
        """Whether the value is encrypted under the current key (nothing to rotate)."""
        return key_id_of(value) == self.key_id

    def rotate(self, value: str) -> str:
        """The value re-encrypted under the current key."""
        return self.encrypt(self.decrypt(value))


def key_id_of(value: str) -> str | None:
    """The key id a ciphertext names; None for a value written before key ids."""
    key_id, separator, _ = value.partition(":")
    return key_id if separator else None


class UnknownKeyId(ValueError):
    def __init__(self, key_id: str) -> None:
        super().__init__(f"a value is encrypted under key id {key_id!r}, which is not configured: it was retired "
                         "while still in use, or the settings lack it (pii_previous_keys)")


@lru_cache(maxsize=8)
def _cipher(key: str, key_id: str, previous: tuple[tuple[str, str], ...]) -> PiiCipher:
    return PiiCipher(key, key_id, dict(previous))


def cipher_for(settings: Any) -> PiiCipher:
    """The service's cipher: the current key and the previous ones still readable (settings are immutable)."""
    return _cipher(settings.pii_encryption_key, settings.pii_encryption_key_id,
                   tuple(sorted(settings.pii_previous_keys.items())))


def mask_mobile(mobile: str) -> str:
    """`138****5678`: the carrier prefix and the last four digits stay."""
    if len(mobile) < 8:
        return "*" * len(mobile)
    return mobile[:3] + "*" * (len(mobile) - 7) + mobile[-4:]


def mask_resident_id(number: str) -> str:
    """`142325********123X`: region code and the last four stay, the birth date and sequence do not."""
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def mask_name(name: str) -> str:
    """`张*三` for three characters, `张*` for two; the first and (for 3+) last character stay."""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]
