"""The circuit breaker's state machine, on a clock the test moves by hand."""

from __future__ import annotations

import pytest

from tierwise.config.settings import BreakerSettings
from tierwise.providers.breaker import Circuit, circuits_for


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def opened(clock: Clock, *, failures: int = 3, cooldown_s: float = 10.0) -> Circuit:
    circuit = Circuit(failures_to_open=failures, cooldown_s=cooldown_s, clock=clock)
    for _ in range(failures):
        assert circuit.allow()
        circuit.failed()
    assert circuit.state == "open"
    return circuit


def test_opens_after_n_failures_in_a_row() -> None:
    circuit = Circuit(failures_to_open=3, cooldown_s=10.0, clock=Clock())
    for _ in range(2):
        circuit.failed()
    assert circuit.state == "closed" and circuit.allow()
    circuit.failed()
    assert circuit.state == "open" and not circuit.allow()


def test_a_success_resets_the_count() -> None:
    circuit = Circuit(failures_to_open=3, cooldown_s=10.0, clock=Clock())
    for _ in range(5):
        circuit.failed()
        circuit.failed()
        circuit.succeeded()
    assert circuit.state == "closed" and circuit.failures == 0


def test_stays_open_for_the_cooldown_then_lets_exactly_one_probe_through() -> None:
    clock = Clock()
    circuit = opened(clock)
    clock.now += 9.9
    assert not circuit.allow()
    assert circuit.reopens_in() == pytest.approx(0.1)
    clock.now += 0.1
    assert circuit.allow()  # the probe
    assert circuit.state == "half-open"
    assert not circuit.allow() and not circuit.allow()  # others are turned away while it runs


def test_a_successful_probe_closes_the_circuit() -> None:
    clock = Clock()
    circuit = opened(clock)
    clock.now += 10
    assert circuit.allow()
    circuit.succeeded()
    assert circuit.state == "closed" and circuit.failures == 0
    assert all(circuit.allow() for _ in range(5))


def test_a_failed_probe_reopens_it_for_a_full_cooldown() -> None:
    clock = Clock()
    circuit = opened(clock)
    clock.now += 15
    assert circuit.allow()
    circuit.failed()
    assert circuit.state == "open" and not circuit.allow()
    clock.now += 9.9
    assert not circuit.allow()
    clock.now += 0.1
    assert circuit.allow()


def test_an_abandoned_probe_frees_the_slot() -> None:
    clock = Clock()
    circuit = opened(clock)
    clock.now += 10
    assert circuit.allow()
    circuit.abandoned()  # e.g. the client went away mid-call
    assert circuit.state == "half-open"
    assert circuit.allow()


def test_a_probe_that_never_reports_is_given_up_after_a_cooldown() -> None:
    clock = Clock()
    circuit = opened(clock)
    clock.now += 10
    assert circuit.allow()
    clock.now += 9
    assert not circuit.allow()
    clock.now += 1
    assert circuit.allow()


def test_a_late_success_from_before_the_opening_does_not_close_it() -> None:
    clock = Clock()
    circuit = opened(clock)
    circuit.succeeded()
    assert circuit.state == "open" and not circuit.allow()


def test_failures_while_open_do_not_extend_the_cooldown() -> None:
    clock = Clock()
    circuit = opened(clock)
    clock.now += 5
    circuit.failed()  # a call that started before the circuit opened
    clock.now += 5
    assert circuit.allow()


def test_one_circuit_per_alias_and_a_disabled_breaker_never_opens() -> None:
    clock = Clock()
    circuits = circuits_for(["a", "b"], BreakerSettings(failures=2, cooldown_s=1.0), clock=clock)
    circuits["a"].failed()
    circuits["a"].failed()
    assert circuits["a"].state == "open" and circuits["b"].state == "closed"
    never = circuits_for(["a"], BreakerSettings(enabled=False, failures=2), clock=clock)["a"]
    for _ in range(1000):
        never.failed()
    assert never.state == "closed" and never.allow()
