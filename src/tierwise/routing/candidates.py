"""Which models of a tier can take a request: context window, capabilities and credentials decide."""

from __future__ import annotations

from dataclasses import dataclass

from tierwise.config.settings import ModelSettings, Settings
from tierwise.errors import InvalidRequest, PayloadTooLarge, TierwiseError, UpstreamUnavailable
from tierwise.routing.decision import TIERS, RouteInput, RoutingDecision, Tier

# Tiers ordered by strength; a request no model of its tier can take moves up (then down) this ladder.
_LADDER: dict[Tier, tuple[Tier, ...]] = {
    "speed": ("speed", "default", "escalation"),
    "default": ("default", "escalation", "speed"),
    "escalation": ("escalation", "default", "speed"),
}


@dataclass(frozen=True, slots=True)
class Candidates:
    tier: Tier
    models: tuple[str, ...]  # usable, in preference order
    notes: tuple[str, ...]  # why models were skipped or the tier changed


def unfit_reason(model: ModelSettings, route_input: RouteInput) -> str | None:
    """Why ``model`` cannot take the request, or None if it can."""
    # A max_tokens above the model's output limit is capped at dispatch, so the limit is what must fit.
    needed = route_input.estimated_tokens + min(route_input.max_output_tokens or 0, model.max_output_tokens)
    if needed > model.context_window:
        return f"{model.alias} context {model.context_window // 1000}k < ~{needed // 1000}k tokens"
    if route_input.needs_tools and "tools" not in model.capabilities:
        return f"{model.alias} lacks tools"
    if route_input.needs_vision and "vision" not in model.capabilities:
        return f"{model.alias} lacks vision"
    if route_input.needs_thinking and not model.capabilities & {"thinking", "adaptive_thinking"}:
        return f"{model.alias} lacks thinking"
    return None


def usable_in_tier(settings: Settings, tier: Tier, route_input: RouteInput) -> tuple[list[str], list[str]]:
    usable: list[str] = []
    notes: list[str] = []
    for alias in settings.tiers.get(tier, ()):
        reason = unfit_reason(settings.models[alias], route_input)
        if reason is None:
            usable.append(alias)
        else:
            notes.append(f"skipped {reason}")
    return usable, notes


def pick_candidates(settings: Settings, tier: Tier, route_input: RouteInput) -> Candidates:
    """The usable models of ``tier``; if none, of the nearest tier that has some (when allowed).

    Models whose provider key is missing stay in the list: dispatch reports them clearly and moves on, so
    that a misconfiguration shows in the ledger instead of silently changing the route.
    """
    usable, notes = usable_in_tier(settings, tier, route_input)
    if usable or not settings.routing.fallback_to_next_tier:
        return Candidates(tier, tuple(usable), tuple(notes))
    for other in _LADDER[tier][1:]:
        other_usable, _ = usable_in_tier(settings, other, route_input)
        if other_usable:
            notes.append(f"no {tier} model fits; moved to {other}")
            return Candidates(other, tuple(other_usable), tuple(notes))
    return Candidates(tier, (), tuple(notes))


def decide_in_tier(
    settings: Settings,
    tier: Tier,
    reasons: list[str],
    route_input: RouteInput,
    *,
    policy: str,
    score: float | None = None,
) -> RoutingDecision:
    """Turn a chosen tier into a decision: its first usable model, the rest as fallbacks."""
    found = pick_candidates(settings, tier, route_input)
    if not found.models:
        raise _unfit(settings, tier, found, route_input)
    return RoutingDecision(
        model=found.models[0],
        tier=found.tier,
        reasons=(*reasons, *found.notes),
        fallbacks=found.models[1:],
        escalations=escalations_above(settings, found.tier, found.models, route_input),
        policy=policy,
        score=score,
    )


def _unfit(settings: Settings, tier: Tier, found: Candidates, route_input: RouteInput) -> TierwiseError:
    """Why no model can take the request: the request's own doing (too large, or needing what no model has) is
    a 4xx the client can act on, not a 503 its SDK would retry."""
    detail = "; ".join(found.notes) or f"tier {tier} has no models"
    models = list(settings.models.values())
    if not models:
        return UpstreamUnavailable(f"no configured model can take this request ({detail})")
    needed = route_input.estimated_tokens + (route_input.max_output_tokens or 0)
    largest = max(models, key=lambda m: m.context_window)
    if needed > largest.context_window:
        return PayloadTooLarge(
            f"the request needs about {needed:,} tokens (prompt plus max output) but the largest context window "
            f"of this gateway's models is {largest.context_window:,} ({largest.alias}); shorten the prompt or "
            "lower max_tokens"
        )
    return InvalidRequest(f"no configured model can take this request ({detail})")


def escalations_above(
    settings: Settings, tier: Tier, taken: tuple[str, ...], route_input: RouteInput
) -> tuple[str, ...]:
    """Usable models of the tiers above ``tier``, for when every model of the tier failed (if configured)."""
    if not settings.reliability.fallback_to_next_tier:
        return ()
    above: list[str] = []
    for upper in TIERS[TIERS.index(tier) + 1 :]:
        usable, _ = usable_in_tier(settings, upper, route_input)
        above.extend(alias for alias in usable if alias not in taken and alias not in above)
    return tuple(above)
