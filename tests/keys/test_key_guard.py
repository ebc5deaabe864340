"""KeyGuard against a real keys table and ledger file: authentication, tiers, rate limits, budgets, restarts."""

from __future__ import annotations

import dataclasses
import time
from decimal import Decimal

import pytest

from tests.keys.conftest import NOON, Clock, admitted, call, finished, make, run_now
from tierwise.config.settings import Settings
from tierwise.errors import AuthenticationFailed, BudgetExceeded, PermissionDenied, RateLimited
from tierwise.keys import KeyGuard, KeyLimits, KeyStore
from tierwise.ledger.entry import LedgerEntry
from tierwise.ledger.store import Ledger
from tierwise.types import Usage

SONNET_MOST = Decimal("0.018")  # 1000 tokens in at $3/M + 1000 out at $15/M
DAY = 86_400.0


def test_authentication_by_bearer_or_x_api_key(settings: Settings, clock: Clock) -> None:
    guard, new = make(settings, clock)
    assert guard.authenticate({"authorization": f"Bearer {new.key}"}).key_id == new.record.key_id
    assert guard.authenticate({"x-api-key": new.key}).key_id == new.record.key_id
    # x-api-key holding something else (an upstream key, say) does not hide a valid bearer
    assert guard.authenticate({"x-api-key": "sk-other", "authorization": f"bearer {new.key}"}).key_id
    with pytest.raises(AuthenticationFailed, match="requires a key"):
        guard.authenticate({})
    with pytest.raises(AuthenticationFailed, match="invalid gateway key"):
        guard.authenticate({"authorization": f"Bearer {new.key}x"})
    with pytest.raises(AuthenticationFailed, match="invalid gateway key"):
        guard.authenticate({"authorization": new.key})  # not a bearer token


def test_revocation_and_new_keys_take_effect_on_refresh(settings: Settings, clock: Clock) -> None:
    guard, new = make(settings, clock)
    store = KeyStore(settings.ledger_path)
    later = store.create("later")
    with pytest.raises(AuthenticationFailed):
        guard.authenticate({"x-api-key": later.key})  # not yet seen
    store.revoke(new.record.key_id)
    guard.authenticate({"x-api-key": new.key})  # still accepted until the guard re-reads the table
    guard.refresh()
    with pytest.raises(AuthenticationFailed, match="revoked"):
        guard.authenticate({"x-api-key": new.key})
    assert guard.authenticate({"x-api-key": later.key}).key_id == later.record.key_id
    assert guard.active_keys == 1


def test_background_refresh_sees_a_revocation(settings: Settings) -> None:
    new = KeyStore(settings.ledger_path).create("test")
    guard = KeyGuard(settings, refresh_s=0.05)
    try:
        KeyStore(settings.ledger_path).revoke(new.record.key_id)
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            try:
                guard.authenticate({"x-api-key": new.key})
            except AuthenticationFailed:
                break
            time.sleep(0.01)
        else:
            pytest.fail("the revocation was not picked up")
    finally:
        run_now(guard.close())


def test_allowed_tiers(settings: Settings, clock: Clock) -> None:
    guard, new = make(settings, clock, tiers=frozenset({"speed", "default"}))
    admitted(guard, new.key, call("claude-haiku-4-5", "speed"))
    admitted(guard, new.key, call("gpt-5.1", None))  # named directly: gpt-5.1 is a default-tier model
    with pytest.raises(PermissionDenied, match="escalation tier"):
        admitted(guard, new.key, call("claude-opus-4-7", "escalation"))
    with pytest.raises(PermissionDenied, match="escalation tier"):
        admitted(guard, new.key, call("gpt-5.2", None))


def test_request_rate_limit_with_retry_after(settings: Settings, clock: Clock) -> None:
    guard, new = make(settings, clock, requests_per_minute=2)
    admitted(guard, new.key)
    admitted(guard, new.key)
    with pytest.raises(RateLimited, match="2 requests per minute") as refused:
        admitted(guard, new.key)
    assert refused.value.retry_after_s == pytest.approx(30.0)
    clock.now += 30.0
    admitted(guard, new.key)


def test_token_rate_limit_counts_real_usage(settings: Settings, clock: Clock) -> None:
    guard, new = make(settings, clock, tokens_per_minute=6000)
    grant = admitted(guard, new.key, call(tokens=1000))
    finished(grant, usage=Usage(input_tokens=1000, output_tokens=4500))  # 5,500 of 6,000 used
    with pytest.raises(RateLimited, match="6000 tokens per minute") as refused:
        admitted(guard, new.key, call(tokens=1000))
    assert refused.value.retry_after_s == pytest.approx(5.0)  # 500 more tokens at 100 a second
    clock.now += 5.0
    admitted(guard, new.key, call(tokens=1000))


def test_budget_is_reserved_then_settled_from_real_usage(settings: Settings, clock: Clock) -> None:
    guard, new = make(settings, clock, daily_budget=Decimal("0.02"))
    grant = admitted(guard, new.key)
    assert grant.reserved == SONNET_MOST
    finished(grant)  # costs $0.006: the rest of the reservation is released
    assert grant.reserved == 0
    for _ in range(2):  # 0.006 -> 0.012 -> 0.018
        finished(admitted(guard, new.key))
    last = admitted(guard, new.key)  # 0.018 < 0.02: admitted, and may cross the budget by its own reservation
    finished(last)  # 0.024
    with pytest.raises(BudgetExceeded, match=r"daily budget of \$0.02") as refused:
        admitted(guard, new.key)
    assert refused.value.retry_after_s == pytest.approx(DAY / 2)  # at noon, the UTC day ends in 12 hours
    clock.now += DAY / 2
    finished(admitted(guard, new.key))  # a new UTC day


def test_a_failed_request_releases_its_reservation(settings: Settings, clock: Clock) -> None:
    guard, new = make(settings, clock, daily_budget=Decimal("0.02"))
    for _ in range(5):
        finished(admitted(guard, new.key), usage=Usage())  # nothing came back: nothing spent
    grant = admitted(guard, new.key)
    assert grant.reserved == SONNET_MOST


def test_monthly_budget_and_the_reservation_covers_fallbacks(settings: Settings, clock: Clock) -> None:
    guard, new = make(settings, clock, monthly_budget=Decimal("0.05"))
    grant = admitted(guard, new.key, call("claude-sonnet-4-6", fallbacks=("claude-opus-4-7",)))
    assert grant.reserved == Decimal("0.030")  # priced on opus, the dearest model it may end on
    finished(grant, "claude-opus-4-7", Usage(input_tokens=1000, output_tokens=1800))  # $0.005 + $0.045
    with pytest.raises(BudgetExceeded, match="monthly budget"):
        admitted(guard, new.key)
    clock.now += 20 * DAY  # April
    admitted(guard, new.key)


def test_max_tokens_defaults_to_the_models_limit(settings: Settings, clock: Clock) -> None:
    guard, new = make(settings, clock, daily_budget=Decimal(100))  # a key with no limits reserves nothing
    grant = admitted(guard, new.key, call(tokens=0, max_tokens=None))
    # sonnet's max_output_tokens at $15/M, and the smallest prompt's byte bound (1 byte + 16 framing) at $3/M
    assert grant.reserved == 64_000 * Decimal("0.000015") + 17 * Decimal("0.000003")


def test_spend_survives_a_restart(settings: Settings, clock: Clock) -> None:
    new = KeyStore(settings.ledger_path).create("test", KeyLimits(daily_budget=Decimal("0.01")))
    ledger = Ledger(settings.ledger_path, models=settings.models, baseline=None)
    for started, tokens in ((NOON - 60, 2000), (NOON - DAY, 1000)):  # today $0.010, yesterday (same month) $0.005
        entry = LedgerEntry(request_id=f"r{started}", started_at=started, api="openai", key_id=new.record.key_id)
        entry.model, entry.status, entry.usage = (
            "claude-sonnet-4-6",
            200,
            Usage(input_tokens=tokens, output_tokens=tokens // 5),
        )
        ledger.record(entry)
    ledger.close()
    guard = KeyGuard(settings, clock=clock, refresh_s=None)
    with pytest.raises(BudgetExceeded, match="daily budget"):
        admitted(guard, new.key)
    clock.now += DAY
    admitted(guard, new.key)  # yesterday's spend does not count today


def test_a_key_limited_to_some_tiers_never_escalates_out_of_them(settings: Settings, clock: Clock) -> None:
    guard, new = make(settings, clock, tiers=frozenset({"speed", "default"}), daily_budget=Decimal(100))
    c = call()
    wide = dataclasses.replace(c.decision, escalations=("claude-opus-4-7", "gpt-5.2"), cascade=True)
    grant = guard.authenticate({"authorization": f"Bearer {new.key}"})
    permitted = run_now(grant.admit(c.request, wide, c.route))
    assert permitted.escalations == () and not permitted.cascade  # both would reach the escalation tier
    assert permitted.model == wide.model and permitted.fallbacks == wide.fallbacks
    # Its reservation is for the models it may reach, not for Opus.
    opus_max = 1000 * Decimal("0.000005") + 1000 * Decimal("0.000025")
    assert grant.reserved < opus_max


def test_a_reservation_prices_max_tokens_capped_at_the_models_limit() -> None:
    from tierwise.keys.prices import ModelRates

    rates = ModelRates(input=Decimal("0.000003"), output=Decimal("0.000015"), max_output_tokens=64_000)
    assert rates.most(1000, 1_000_000) == rates.most(1000, 64_000) == 1000 * rates.input + 64_000 * rates.output
    assert rates.most(1000, 500) == 1000 * rates.input + 500 * rates.output
    assert rates.most(1000, None) == rates.most(1000, 64_000)
