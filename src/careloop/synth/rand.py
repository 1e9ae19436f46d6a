"""Fast draws from a ``random.Random``: randint/randrange/choice cost several times more in CPython."""

from __future__ import annotations

import random
from collections.abc import Sequence


def ri(rng: random.Random, a: int, b: int) -> int:
    """An integer in [a, b], like ``rng.randint(a, b)``."""
    return a + int(rng.random() * (b - a + 1))


def rr(rng: random.Random, n: int) -> int:
    """An integer in [0, n), like ``rng.randrange(n)``."""
    return int(rng.random() * n)


def noise(rng: random.Random, sd: float) -> float:
    """A cheap, bounded, bell-shaped draw with mean 0 and standard deviation ``sd`` (Irwin-Hall, n=3)."""
    r = rng.random
    return (r() + r() + r() - 1.5) * 2.0 * sd


def one[T](rng: random.Random, seq: Sequence[T]) -> T:
    """An element of seq, like ``rng.choice(seq)``."""
    return seq[int(rng.random() * len(seq))]
