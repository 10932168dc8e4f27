"""Rules about a worker's registration that need no I/O."""

from __future__ import annotations


def same_name(submitted: str, registered: str) -> bool:
    """Whether two spellings name the same person as far as a typist is concerned: names are stored as
    submitted, so staff and the worker may differ in spacing or in the case of Latin letters only."""
    return " ".join(submitted.split()).casefold() == " ".join(registered.split()).casefold()
