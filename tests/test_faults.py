"""The emulator's injected faults repeat: each kind draws from a generator of its own."""

from __future__ import annotations

import re

import pytest

from voicedial.emulator.faults import Faults


def test_creates_meet_the_same_faults_however_callbacks_interleave() -> None:
    quiet = Faults(create_429=0.2, duplicate_callbacks=0.3, seed=7)
    busy = Faults(create_429=0.2, duplicate_callbacks=0.3, seed=7)
    first = [quiet.hit("create_429") for _ in range(50)]
    second = []
    for n in range(50):
        for _ in range(n % 4):  # callbacks of earlier calls, a different number each time
            busy.hit("duplicate_callbacks")
        second.append(busy.hit("create_429"))
    assert first == second
    assert 0 < sum(first) < 50  # a share, not all or none


def test_another_seed_gives_other_faults_and_a_zero_rate_none() -> None:
    def draws(seed: int) -> tuple[bool, ...]:
        faults = Faults(create_429=0.5, seed=seed)
        return tuple(faults.hit("create_429") for _ in range(16))

    assert draws(1) == draws(1)
    assert len({draws(seed) for seed in range(5)}) > 1
    never = Faults(seed=3)
    assert not any(never.hit("create_500") for _ in range(100))


def test_a_share_out_of_range_is_refused_by_its_option_name() -> None:
    with pytest.raises(ValueError, match=re.escape("--fault-create-429 1.5")):
        Faults(create_429=1.5)
