"""The routing-brain sub-commands of ``tierwise``: ``eval``, ``train`` and ``calibrate``.

Heavy imports (scikit-learn, matplotlib) happen inside the handlers, never at import.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tierwise.brain.artifact import Embedder
    from tierwise.brain.evaluation import ModelsReport, PairReport
    from tierwise.brain.strategies import EmbeddingCache, Strategy
    from tierwise.brain.table import OutcomeTable

LEARNED = ("tfidf-lr", "tfidf-knn", "embed-knn", "embed-lr", "embed-knn+lr", "multi-model", "difficulty")
TRAINABLE = ("embed-knn+lr", "embed-lr", "embed-knn", "tfidf-lr")
DEFAULT_PRIOR = "embed-knn+lr"


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``eval``, ``train`` and ``calibrate`` to the ``tierwise`` command."""
    ev = subparsers.add_parser("eval", help="offline evaluation of routing strategies on outcome tables")
    ev.add_argument("data", nargs="+", help="outcome folders to test on (shared/data format)")
    ev.add_argument("--weak", help="the cheap model (omit both to compare all models of each table)")
    ev.add_argument("--strong", help="the premium model")
    ev.add_argument("--train", nargs="+", metavar="DIR", help="train on these folders (cross-data-set)")
    ev.add_argument("--strategy", action="append", metavar="NAME", help=f"repeatable; {strategy_help()}")
    ev.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    ev.add_argument("--plot", metavar="PATH", help="write a PNG of quality against cost")
    ev.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    ev.add_argument("--seed", type=int, default=0, help="cross-validation seed (default 0)")
    ev.add_argument("--embedder", metavar="DIR", help="static embedder folder (default: the packaged one)")
    ev.add_argument("--quiet", action="store_true", help="no progress on stderr")
    ev.set_defaults(handler=run_eval)

    tr = subparsers.add_parser("train", help="train a router artifact on outcome tables")
    tr.add_argument("data", nargs="+", help="outcome folders to train on")
    tr.add_argument("--weak", help="cheap model; omit both for the model-agnostic cheap-vs-premium label")
    tr.add_argument("--strong", help="premium model")
    tr.add_argument("--strategy", default=DEFAULT_PRIOR, choices=TRAINABLE, help="router recipe")
    tr.add_argument("--out", required=True, metavar="DIR", help="artifact directory to write")
    tr.add_argument("--version", default="1", help="the artifact's version label (default 1)")
    tr.add_argument("--embedder", metavar="DIR", help="static embedder folder (default: the packaged one)")
    tr.set_defaults(handler=run_train)

    ca = subparsers.add_parser("calibrate", help="pick the router threshold for a quality target or budget")
    ca.add_argument("data", nargs="?", help="outcome folder to calibrate on (not the data you report as test)")
    ca.add_argument(
        "--from-evidence",
        action="store_true",
        help="recalibrate from the judged evidence in the config's ledger instead of DATA: applies a new "
        "operating point only if its quality's lower confidence bound meets the target (routing.target, or "
        "--target-quality / --max-cost), and records it for the running gateway to adopt",
    )
    ca.add_argument("--weak", help="cheap model (default: the table's cheapest)")
    ca.add_argument("--strong", help="premium model (default: the table's best)")
    ca.add_argument("--artifact", help="router artifact (default: the packaged router)")
    goal = ca.add_mutually_exclusive_group()
    goal.add_argument("--target-quality", type=float, help="share of the strong model's quality, e.g. 0.95")
    goal.add_argument("--max-cost", type=float, help="share of the always-strong cost, e.g. 0.5")
    ca.add_argument("--config", required=True, help="YAML config to write routing.learned into")
    ca.add_argument(
        "--policy",
        choices=("learned", "cascade"),
        help="learned: below the threshold the weak tier answers; cascade: below it the weak answer is "
        "checked by --checker and escalated on disagreement (default: learned, or cascade if the config "
        "already says so)",
    )
    ca.add_argument(
        "--checker",
        help="cascade: the cheap model that checks the weak answer (default: the one whose disagreement best "
        "predicts the need for strong on DATA)",
    )
    ca.add_argument("--weak-tier", help="tier to use below the threshold (default: kept, else 'default')")
    ca.add_argument("--strong-tier", help="tier to escalate to (default: kept, else 'escalation')")
    ca.add_argument("--embedder", metavar="DIR", help="static embedder folder (default: the packaged one)")
    ca.set_defaults(handler=run_calibrate)


def strategy_help() -> str:
    return (
        "random, oracle, "
        + ", ".join(LEARNED)
        + ", cascadeN+PRIOR (N cheap checkers, default 1; +PRIOR: a learned strategy breaks ties)"
    )


# --- eval ---------------------------------------------------------------------------------------------------


def run_eval(args: argparse.Namespace) -> int:
    from tierwise.brain.evaluation import evaluate_models, evaluate_pair, stderr_progress
    from tierwise.brain.labels import Pair
    from tierwise.brain.plot import plot_reports
    from tierwise.brain.report import format_models_report, format_pair_report, reports_json

    progress = None if args.quiet else stderr_progress
    if (args.weak is None) != (args.strong is None):
        print("tierwise eval: give both --weak and --strong, or neither", file=sys.stderr)
        return 2
    embeddings = load_embeddings(args.embedder)
    tests = [load(path) for path in args.data]
    train_all = [load(path) for path in args.train] if args.train else None
    reports: list[PairReport | ModelsReport] = []
    for test in tests:
        train = None
        if train_all is not None:
            train = [t for t in train_all if t.name != test.name]
            if len(train) < len(train_all) and progress:
                progress(f"{test.name}: left out of its own training folders")
            if not train:
                print(f"tierwise eval: nothing to train on for {test.name}", file=sys.stderr)
                return 2
        if args.weak is None:
            models_report = evaluate_models(
                test, train=train, embeddings=embeddings, k=args.folds, seed=args.seed, progress=progress
            )
            reports.append(models_report)
            print(format_models_report(models_report))
            continue
        try:
            pair = Pair(
                weak=test.models[test.model_index(args.weak)], strong=test.models[test.model_index(args.strong)]
            )
        except KeyError as exc:
            print(f"tierwise eval: {exc.args[0]}", file=sys.stderr)
            return 2
        strategies = build_strategies(args.strategy)
        report = evaluate_pair(
            test, pair, strategies, train=train, embeddings=embeddings, k=args.folds, seed=args.seed, progress=progress
        )
        reports.append(report)
        print(format_pair_report(report))
    if args.json:
        Path(args.json).write_text(json.dumps(reports_json(reports), indent=2) + "\n", encoding="utf-8")
    if args.plot:
        plot_reports(reports, args.plot)
    return 0


def build_strategies(names: Sequence[str] | None) -> list[Strategy]:
    """Strategies by name; ``None`` gives the default line-up."""
    from tierwise.brain import cascade
    from tierwise.brain import strategies as s

    if not names:
        learned, prior = list(LEARNED), DEFAULT_PRIOR
        names = [
            "random",
            "oracle",
            *learned,
            "cascade",
            f"cascade+{prior}",
            f"cascade2+{prior}",
            f"gated-cascade+{prior}",
        ]

    def one(name: str) -> Strategy:
        if name == "random":
            return s.RandomMix()
        if name == "oracle":
            return s.Oracle()
        if name == "tfidf-lr":
            return s.TfidfLogistic()
        if name == "tfidf-knn":
            return s.TfidfKnn()
        if name in ("embed-knn", "embed-lr", "embed-knn+lr"):
            return s.EmbeddingRouter(heads=name.removeprefix("embed-"))
        if name == "multi-model":
            return s.MultiModel()
        if name == "difficulty":
            return s.Difficulty()
        if name.startswith("ensemble(") and name.endswith(")"):
            return s.Ensemble(members=tuple(one(m) for m in name[len("ensemble(") : -1].split(",")))
        if name.startswith("gated-cascade+"):
            return cascade.GatedCascade(prior=one(name.removeprefix("gated-cascade+")))
        if name.startswith("cascade"):
            head, _, prior = name.partition("+")
            checkers = int(head.removeprefix("cascade") or 1)
            return cascade.Cascade(prior=one(prior) if prior else None, checkers=checkers)
        raise SystemExit(f"tierwise: unknown strategy {name!r} ({strategy_help()})")

    return [one(n) for n in names]


def load(path: str) -> OutcomeTable:
    from tierwise.brain.table import load_table

    return load_table(path)


def load_embedder(path: str | None) -> Embedder:
    """The static embedder (the packaged one without ``path``); a folder that cannot be read ends the run."""
    from tierwise.brain.embedding import StaticEmbedder

    if path is not None and not (Path(path) / "tokenizer.json").is_file():
        raise SystemExit(f"tierwise: no static embedder at {path} (tokenizer.json and embeddings.npy expected)")
    try:
        return StaticEmbedder.load(path)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"tierwise: cannot load the static embedder: {exc}") from None


def load_embeddings(path: str | None) -> EmbeddingCache:
    from tierwise.brain.strategies import EmbeddingCache

    return EmbeddingCache(load_embedder(path))


# --- train --------------------------------------------------------------------------------------------------


def run_train(args: argparse.Namespace) -> int:
    import numpy as np

    from tierwise.brain.artifact import save_router
    from tierwise.brain.labels import Pair, needs_strong, pair_present
    from tierwise.brain.training import fit_embedding_router, fit_tfidf_router

    if (args.weak is None) != (args.strong is None):
        print("tierwise train: give both --weak and --strong, or neither", file=sys.stderr)
        return 2
    pair = Pair(weak=args.weak, strong=args.strong) if args.weak else None
    tables = [load(path) for path in args.data]
    texts = [t for table in tables for t in table.texts]
    labels = np.concatenate([needs_strong(table, pair) for table in tables])
    started = time.perf_counter()
    if args.strategy == "tfidf-lr":
        router = fit_tfidf_router(texts, labels)
    else:
        embedder = load_embedder(args.embedder)
        router = fit_embedding_router(texts, labels, embedder=embedder, heads=args.strategy.removeprefix("embed-"))
    metadata = {
        "trained_on": [t.name for t in tables],
        "prompts": len(texts),
        "label": {
            t.name: (f"{pair} wins" if pair_present(t, pair) else "premium-half beats cheap-half share") for t in tables
        },
        "positive_share": round(float(labels.mean()), 4),
        # where thresholds fall on the training prompts: a starting point before `tierwise calibrate`
        "score_quantiles": {
            f"p{q}": round(float(v), 4)
            for q, v in zip((10, 50, 70, 90), np.quantile(router.score_many(texts), (0.1, 0.5, 0.7, 0.9)), strict=True)
        },
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    from dataclasses import replace

    router = replace(router, version=args.version, metadata=metadata)
    out = save_router(router, args.out)
    size = sum(f.stat().st_size for f in out.iterdir())
    print(
        f"wrote {out} ({router.describe()}, {len(texts)} prompts, {size / 1e6:.1f} MB, "
        f"{time.perf_counter() - started:.1f}s)"
    )
    return 0


# --- calibrate ----------------------------------------------------------------------------------------------


def run_calibrate(args: argparse.Namespace) -> int:
    if args.from_evidence:
        from tierwise.evidence.commands import calibrate_from_evidence

        return calibrate_from_evidence(args.config, target_quality=args.target_quality, max_cost=args.max_cost)
    if args.data is None or (args.target_quality is None and args.max_cost is None):
        print("tierwise calibrate: give DATA and one of --target-quality, --max-cost (or --from-evidence)")
        return 2
    import numpy as np

    from tierwise.brain.artifact import load_router
    from tierwise.brain.calibration import pick_threshold, write_learned_config
    from tierwise.brain.cascade import Cascade, checked_outcomes, disagreement
    from tierwise.brain.labels import Pair
    from tierwise.brain.strategies import Task, weak_outcomes

    table = load(args.data)
    q, c = table.scores.mean(axis=0), table.costs.mean(axis=0)
    weak = table.model_index(args.weak) if args.weak else int(np.argmin(c))
    strong = table.model_index(args.strong) if args.strong else int(np.argmax(q - 1e-9 * c))
    embedder = load_embedder(args.embedder) if args.embedder else None
    router = load_router(args.artifact, embedder=embedder)
    scores = router.score_many(table.texts)
    pair = Pair(weak=table.models[weak], strong=table.models[strong])
    kept, how = weak_outcomes(table, pair), ""
    policy = args.policy or configured_policy(args.config)
    if policy == "cascade":
        if not table.has_answers(pair.weak):
            print(f"tierwise calibrate: {table.name} has no answers of {pair.weak} to check", file=sys.stderr)
            return 2
        if args.checker:
            checker = table.models[table.model_index(args.checker)]
        else:  # the checker the cascade strategy would pick on this table
            task = Task(train=(table,), test=table, pair=pair)
            try:
                (checker,), _ = Cascade(checkers=1).choose_panel(task)
            except ValueError as exc:
                print(f"tierwise calibrate: {exc}", file=sys.stderr)
                return 2
        kept = checked_outcomes(table, pair, checker, disagreement(table, pair.weak, checker))
        how = f", below the threshold checked by {checker}"
    result = pick_threshold(
        scores,
        kept_quality=kept.quality,
        escalated_quality=table.scores[:, strong],
        kept_cost=kept.cost,
        escalated_cost=table.costs[:, strong],
        kept_calls=kept.strong_calls,
        target_quality=args.target_quality,
        max_cost=args.max_cost,
    )
    write_learned_config(
        args.config,
        threshold=result.threshold,
        artifact=args.artifact,
        weak_tier=args.weak_tier,
        strong_tier=args.strong_tier,
        policy=policy,
    )
    print(
        f"{table.name}: {pair} with {router.describe()} ({policy} policy{how})\n"
        f"threshold {result.threshold:.4f}: {result.share:.1%} of calls to strong, quality "
        f"{result.quality_share:.1%} of strong at {result.cost_share:.1%} of its cost\n"
        f"wrote routing.learned.threshold to {args.config}"
    )
    return 0


def configured_policy(config: str) -> str:
    """``cascade`` if the config file already routes by cascade, else ``learned``."""
    import yaml

    path = Path(config)
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    routing = data.get("routing") if isinstance(data, dict) else None
    return "cascade" if isinstance(routing, dict) and routing.get("policy") == "cascade" else "learned"
