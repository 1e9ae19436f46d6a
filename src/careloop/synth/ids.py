"""Identifiers: NPIs that pass the Luhn check, CMS-format MBIs and MRNs, unique per (seed, patient).

Uniqueness comes from multiplying the patient number by a constant that is coprime to the modulus: a
bijection, so two patients of one seed never share an MBI, MRN or hospital account number, and the values
still look random.
"""

from __future__ import annotations

import random

from careloop.synth.rand import one, ri

# CMS MBI: letters exclude S, L, O, I, B and Z.
MBI_LETTERS = "ACDEFGHJKMNPQRTUVWXY"
MBI_ALNUM = "0123456789" + MBI_LETTERS
_MBI_SPACE = 10 * 20 * 10 * 20 * 20 * 10 * 10  # positions 4, 5, 7, 8, 9, 10, 11


def luhn_check_digit(payload: str) -> int:
    """The digit that makes ``payload + digit`` pass the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = ord(ch) - 48
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def npi_is_valid(npi: str) -> bool:
    if len(npi) != 10 or not npi.isdigit():
        return False
    return luhn_check_digit("80840" + npi[:9]) == int(npi[9])


def npi_from_serial(n: int) -> str:
    """A valid NPI from a serial number (the same rule as ``careloop demo``)."""
    base = f"1{n:08d}"
    return base + str(luhn_check_digit("80840" + base))


def _mix(seed: int, salt: int, modulus: int) -> int:
    return (seed * 2_654_435_761 + salt * 40_503) % modulus


def patient_key(seed: int, n: int, modulus: int = _MBI_SPACE) -> int:
    """A bijection of the patient number onto [0, modulus), different per seed."""
    return (n * 48_271 + _mix(seed, 1, modulus)) % modulus


def mbi(seed: int, n: int, rng: random.Random) -> str:
    """An 11-character MBI: C A AN N A AN N A A N N, as in the CMS MBI format."""
    k = patient_key(seed, n)
    k, p11 = divmod(k, 10)
    k, p10 = divmod(k, 10)
    k, p9 = divmod(k, 20)
    k, p8 = divmod(k, 20)
    k, p7 = divmod(k, 10)
    k, p5 = divmod(k, 20)
    p4 = k % 10
    return (
        f"{ri(rng, 1, 9)}{one(rng, MBI_LETTERS)}{one(rng, MBI_ALNUM)}{p4}{MBI_LETTERS[p5]}"
        f"{one(rng, MBI_ALNUM)}{p7}{MBI_LETTERS[p8]}{MBI_LETTERS[p9]}{p10}{p11}"
    )


def mbi_is_valid(value: str) -> bool:
    if len(value) != 11:
        return False
    allowed = {"C": "123456789", "A": MBI_LETTERS, "X": MBI_ALNUM, "N": "0123456789"}
    return all(ch in allowed[kind] for ch, kind in zip(value, "CAXNAXNAANN", strict=True))


def mrn(seed: int, n: int) -> str:
    """The clinic EHR's 8-digit medical record number."""
    return f"{(n * 7_919 + _mix(seed, 2, 100_000_000)) % 100_000_000:08d}"


def hospital_mrn(seed: int, n: int, hospital: int) -> str:
    """A hospital's own MRN for the patient (each hospital numbers patients differently)."""
    modulus = 10_000_000
    multiplier = (9_973, 9_967, 9_949, 9_941)[hospital % 4]
    value = (n * multiplier + _mix(seed, 10 + hospital, modulus)) % modulus
    return f"{'MEHW'[hospital % 4]}{value:07d}"


def account_base(seed: int, n: int) -> int:
    """A per-patient 8-digit number that hospital visit numbers are built on."""
    return (n * 15_485_863 + _mix(seed, 3, 100_000_000)) % 100_000_000
