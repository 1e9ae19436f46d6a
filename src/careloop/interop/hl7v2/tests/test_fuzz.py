"""Malformed input never crashes the intake: every mutation gets an ACK (AA, AE or AR) and is stored."""

from __future__ import annotations

import random

import pytest

from careloop.clinics.tests.factories import make_org
from careloop.interop.hl7v2.tests.factories import adt, inbox, oru
from careloop.interop.mllp.client import ack_summary
from careloop.registry.models import RawHl7Message

pytestmark = pytest.mark.django_db

SEEDS = [adt("A01", "F1", dx=["I50.9"]), adt("A03", "F2", discharge="20260105083000-0500"),
         adt("A40", "F3", prior="OLD", pv1=False), oru("F4"), adt("A08", "F5", version="2.3")]
ALPHABET = "|^~\\&\r\n\x0b\x1c\x00MSHPIDV1 0123456789\ufeff\"#"


def mutate(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 6)):
        op = rng.random()
        pos = rng.randrange(len(chars) + 1)
        if op < 0.3 and chars:
            del chars[min(pos, len(chars) - 1)]
        elif op < 0.6:
            chars.insert(pos, rng.choice(ALPHABET))
        elif op < 0.8 and chars:
            chars[min(pos, len(chars) - 1)] = rng.choice(ALPHABET)
        else:
            chars = chars[:pos]
    return "".join(chars)


def test_mutated_messages_always_get_an_ack() -> None:
    org = make_org()
    box = inbox(org)
    rng = random.Random(20260105)
    n = 0
    for i in range(400):
        text = mutate(rng, SEEDS[i % len(SEEDS)])
        result = box.receive_frame(text.encode("utf-8", "replace"), source=f"fuzz {i}")
        assert result.ack_code in ("AA", "AE", "AR"), (text, result)
        assert ack_summary(result.ack)[0] == result.ack_code
        for r in box.ingest_text(text, source=f"fuzz file {i}"):
            assert r.ack_code in ("AA", "AE", "AR")
            assert r.report()["ack_code"] == r.ack_code
            n += 1
    assert RawHl7Message.objects.count() == 400 + n
