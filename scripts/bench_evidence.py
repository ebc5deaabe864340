"""The evidence loop on real outcome data, through the live gateway, in two phases.

    uv run python scripts/bench_evidence.py DATA_DIR --speed MODEL --default MODEL --escalation MODEL \
        [--learn-fraction 0.5] [--target 0.97] [--judge-noise 0.0] [--limit 400] [--seed 0] --json OUT

A table upstream answers as each model of DATA_DIR did (its recorded answer and token counts) and an ``http``
judge scores answers from the table (each verdict flipped with probability --judge-noise). The gateway runs as
a real process with the shipped rules, ``routing.policy: learned`` and ``routing.target: {quality: TARGET}``:

1. learn: the first part of the prompts, every request sampled and shadowed; the loop applies what it can vouch
   for (it starts on the default tier).
2. serve: the gateway restarts on the same ledger (its point is read back) and serves the rest, sampling only
   --serve-sample-rate of them; no judge decides any request, and the shadow calls made here count in its cost.

Served quality is the table's score of the model that answered each serving request. Baselines on the same
prompts, from the table: always-speed, always-default, always-escalation, random (default/escalation mixed at
the served escalation share) and oracle (per prompt the cheaper of default/escalation that scores best).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.gateway_process import GatewayProcess  # noqa: E402
from tests.upstreams import running  # noqa: E402
from tests.upstreams.outcome_table import Table, TableJudge, TableUpstream  # noqa: E402

KEY = "sk-bench-table"
TIERS = ("speed", "default", "escalation")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", help="an outcome table folder (shared/data format)")
    parser.add_argument("--speed", required=True)
    parser.add_argument("--default", required=True)
    parser.add_argument("--escalation", required=True)
    parser.add_argument("--learn-fraction", type=float, default=0.5)
    parser.add_argument("--target", type=float, default=0.97, help="quality share of the escalation tier's")
    parser.add_argument("--judge-noise", type=float, default=0.0)
    parser.add_argument("--limit", type=int, default=400, help="prompts used (a seeded sample of the table)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--serve-sample-rate", type=float, default=0.1)
    parser.add_argument("--min-samples", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--logs", metavar="DIR", help="keep the two gateway logs (learn.log, serve.log) here")
    parser.add_argument("--json", required=True, metavar="OUT")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(summary(result))
    return 0


async def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    table = Table.load(args.data)
    models = {tier: resolve(table, getattr(args, tier)) for tier in TIERS}
    ids = sorted({prompt_id for prompt_id in table.prompts.values()})
    random.Random(args.seed).shuffle(ids)
    ids = ids[: args.limit]
    texts = {prompt_id: text for text, prompt_id in table.prompts.items()}
    n_learn = round(len(ids) * args.learn_fraction)
    learn, serve = ids[:n_learn], ids[n_learn:]
    with (
        running(TableUpstream(table, api_key=KEY)) as upstream,  # type: ignore[type-var,unused-ignore]
        running(TableJudge(table, noise=args.judge_noise, seed=args.seed)) as judge,  # type: ignore[type-var,unused-ignore]
        tempfile.TemporaryDirectory(prefix="bench-evidence-") as tmp,
    ):
        workdir = Path(tmp)
        db = workdir / "tierwise.db"
        (workdir / "learn").mkdir()
        (workdir / "serve").mkdir()
        write_config(workdir / "learn.yaml", table, models, upstream.url, judge.url, args, sample_rate=1.0)
        write_config(workdir / "serve.yaml", table, models, upstream.url, judge.url, args, args.serve_sample_rate)

        learn_start = time.time()
        gateway = GatewayProcess(workdir / "learn", env={"TABLE_KEY": KEY}, config=workdir / "learn.yaml")
        try:
            learned = await ask_all(gateway.url, [texts[i] for i in learn], args.concurrency)
            await drain(db, since=learn_start, expected=len(learn))
            await asyncio.sleep(2.5)  # one more recalibration round on the complete evidence
        finally:
            gateway.stop()

        serve_start = time.time()
        gateway = GatewayProcess(workdir / "serve", env={"TABLE_KEY": KEY}, config=workdir / "serve.yaml")
        try:
            served = await ask_all(gateway.url, [texts[i] for i in serve], args.concurrency)
            await drain(db, since=serve_start, expected=None)
        finally:
            gateway.stop()
        if args.logs:
            Path(args.logs).mkdir(parents=True, exist_ok=True)
            for phase in ("learn", "serve"):
                log = (workdir / phase / "gateway.log").read_text(errors="replace")
                (Path(args.logs) / f"{phase}.log").write_text(log, encoding="utf-8")
        ledger = read_ledger(db, learn_start, serve_start)
        changes = [
            dict(zip(CHANGE_COLUMNS, row, strict=True))
            for row in query(db, f"SELECT {', '.join(CHANGE_COLUMNS)} FROM routing_changes ORDER BY changed_at")
        ]
    return report(table, models, learn, serve, learned, served, ledger, changes, args, time.monotonic() - started)


CHANGE_COLUMNS = (
    "changed_at",
    "action",
    "threshold",
    "estimate",
    "lower_bound",
    "upper_bound",
    "n",
    "escalated_share",
    "reason",
)


def resolve(table: Table, name: str) -> str:
    if name in table.models:
        return name
    hits = [m for m in table.models if name.lower() in m.lower()]
    if len(hits) != 1:
        raise SystemExit(
            f"model {name!r} {'is ambiguous' if hits else 'is not'} in the table ({', '.join(table.models)})"
        )
    return hits[0]


def write_config(
    path: Path,
    table: Table,
    models: dict[str, str],
    upstream: str,
    judge: str,
    args: argparse.Namespace,
    sample_rate: float,
) -> None:
    from tierwise.config.loader import default_config_text

    shipped = yaml.safe_load(default_config_text())
    config = {
        "ledger": {"path": str(path.parent / "tierwise.db")},
        "providers": {"table": {"kind": "openai", "base_url": upstream, "api_key_env": "TABLE_KEY"}},
        "models": {
            model: {
                "provider": "table",
                "id": model,
                "context_window": 1_000_000,
                "capabilities": ["tools"],
                "prices": {"input": table.prices[model][0], "output": table.prices[model][1]},
            }
            for model in dict.fromkeys(models.values())
        },
        "tiers": {tier: [model] for tier, model in models.items()},
        "routing": {
            "policy": "learned",
            "sticky_sessions": False,
            "rules": shipped["routing"]["rules"],  # the shipped rules settle what they match, as for a user
            "learned": {"weak_tier": "default", "strong_tier": "escalation"},
            "target": {"quality": args.target},
        },
        "reliability": {"retries": 0},
        "evidence": {
            "enabled": True,
            "sample_rate": sample_rate,
            "judge": {"kind": "http", "url": judge},
            "shadow": {"max_usd_per_day": 1000, "concurrency": 4},
            "queue": 100_000,
            "min_samples": args.min_samples,
            "recalibrate_every": 1.0,
        },
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


async def ask_all(url: str, prompts: list[str], concurrency: int) -> list[dict[str, str]]:
    """Each prompt once through the gateway; the model that answered and the routing reason."""
    results: list[dict[str, str]] = [{} for _ in prompts]
    queue = list(enumerate(prompts))
    async with aiohttp.ClientSession() as session:

        async def worker() -> None:
            while queue:
                i, prompt = queue.pop(0)
                body = {"model": "auto", "messages": [{"role": "user", "content": prompt}]}
                async with session.post(url + "/v1/chat/completions", json=body) as response:
                    payload = await response.json()
                    if response.status != 200:
                        raise RuntimeError(f"gateway answered {response.status}: {payload}")
                    results[i] = {
                        "model": payload["model"],
                        "tier": response.headers.get("x-tierwise-tier", ""),
                        "reason": response.headers.get("x-tierwise-reason", ""),
                    }

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results


async def drain(db: Path, *, since: float, expected: int | None, timeout: float = 300.0) -> None:
    """Wait until the gateway has judged what it sampled (the count stops moving)."""
    deadline = time.monotonic() + timeout
    last, still = -1, 0
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        samples = query(db, "SELECT COUNT(*) FROM evidence_samples WHERE created_at >= ?", (since,))[0][0]
        judged = query(db, "SELECT COUNT(*) FROM evidence_comparisons WHERE created_at >= ?", (since,))[0][0]
        if expected is not None and samples < expected:
            continue
        still = still + 1 if judged == last else 0
        last = judged
        if still >= 4:
            return


def query(db: Path, sql: str, values: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return list(connection.execute(sql, values))
    finally:
        connection.close()


def read_ledger(db: Path, learn_start: float, serve_start: float) -> dict[str, dict[str, float]]:
    """Spend and calls by phase and traffic (client, shadow, judge)."""
    found: dict[str, dict[str, float]] = {}
    rows = query(db, "SELECT started_at, traffic, cost_usd, status FROM requests WHERE started_at >= ?", (learn_start,))
    for started_at, traffic, cost, status in rows:
        phase = "serve" if started_at >= serve_start else "learn"
        bucket = found.setdefault(f"{phase}_{traffic}", {"calls": 0, "cost_usd": 0.0, "errors": 0})
        bucket["calls"] += 1
        bucket["cost_usd"] += float(cost) if cost else 0.0
        bucket["errors"] += status != 200
    return found


def report(
    table: Table,
    models: dict[str, str],
    learn: list[str],
    serve: list[str],
    learned: list[dict[str, str]],
    served: list[dict[str, str]],
    ledger: dict[str, dict[str, float]],
    changes: list[dict[str, Any]],
    args: argparse.Namespace,
    seconds: float,
) -> dict[str, Any]:
    def score(prompt_id: str, model: str) -> float:
        return table.outcomes[(prompt_id, model)].score

    def cost(prompt_id: str, model: str) -> float:
        price_in, price_out = table.prices[model]
        out = table.outcomes[(prompt_id, model)].output_tokens
        return (table.input_tokens[prompt_id] * price_in + out * price_out) / 1e6

    def always(tier: str) -> tuple[float, float]:
        model = models[tier]
        return mean(score(i, model) for i in serve), sum(cost(i, model) for i in serve)

    d, e = models["default"], models["escalation"]
    q_served = mean(score(i, r["model"]) for i, r in zip(serve, served, strict=True))
    tiers = {tier: sum(1 for r in served if r["tier"] == tier) / len(serve) for tier in TIERS}
    share = tiers["escalation"]
    q_d, c_d = always("default")
    q_e, c_e = always("escalation")
    q_s, c_s = always("speed")
    oracle_q = mean(max(score(i, d), score(i, e)) for i in serve)
    oracle_c = sum(cost(i, d) if score(i, d) >= score(i, e) else cost(i, e) for i in serve)
    client = ledger.get("serve_client", {}).get("cost_usd", 0.0)
    shadow = ledger.get("serve_shadow", {}).get("cost_usd", 0.0)
    judge = ledger.get("serve_judge", {}).get("cost_usd", 0.0)
    total = client + shadow + judge
    return {
        "data": str(args.data),
        "models": models,
        "target": args.target,
        "judge_noise": args.judge_noise,
        "learn_prompts": len(learn),
        "serve_prompts": len(serve),
        "served_quality": q_served,
        "total_cost_usd": total,
        "client_cost_usd": client,
        "shadow_cost_usd": shadow,
        "judge_cost_usd": judge,
        "quality_vs_escalation": q_served / q_e if q_e else None,
        "target_met": bool(q_e and q_served / q_e >= args.target),
        "cost_vs_escalation": total / c_e if c_e else None,
        "cost_vs_default": total / c_d if c_d else None,
        "served_tier_shares": tiers,
        "always_speed_quality": q_s,
        "always_speed_cost_usd": c_s,
        "always_default_quality": q_d,
        "always_default_cost_usd": c_d,
        "always_escalation_quality": q_e,
        "always_escalation_cost_usd": c_e,
        "random_quality": (1 - share) * q_d + share * q_e,
        "random_cost_usd": (1 - share) * c_d + share * c_e,
        "oracle_quality": oracle_q,
        "oracle_cost_usd": oracle_c,
        "learn_phase": {
            "served_quality": mean(score(i, r["model"]) for i, r in zip(learn, learned, strict=True)),
            "cost_usd": sum(v["cost_usd"] for k, v in ledger.items() if k.startswith("learn_")),
        },
        "ledger": ledger,
        "routing_changes": changes,
        "seconds": round(seconds, 1),
    }


def mean(values: Any) -> float:
    items = list(values)
    return sum(items) / len(items) if items else 0.0


def summary(r: dict[str, Any]) -> str:
    lines = [
        f"{r['data']}: {r['learn_prompts']} learn + {r['serve_prompts']} serve prompts, target {r['target']}, "
        f"judge noise {r['judge_noise']}",
        f"{'':<20}{'quality':>9}{'cost $':>12}",
        f"{'served (evidence)':<20}{r['served_quality']:>9.3f}{r['total_cost_usd']:>12.4f}   "
        f"(shadow {r['shadow_cost_usd']:.4f}; escalated {r['served_tier_shares']['escalation']:.0%})",
    ]
    for name in ("always_speed", "always_default", "always_escalation", "random", "oracle"):
        lines.append(f"{name:<20}{r[name + '_quality']:>9.3f}{r[name + '_cost_usd']:>12.4f}")
    lines.append(
        f"quality {r['quality_vs_escalation']:.3f} of escalation (target {r['target']}: "
        f"{'met' if r['target_met'] else 'MISSED'}), cost {r['cost_vs_escalation']:.2f} of escalation"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
