#!/usr/bin/env bash
# Reproduces every figure of docs/BENCHMARKS.md: routing quality (cross-validated and cross-data-set)
# and decision latency. Usage: scripts/brain_benchmarks.sh [OUT_DIR]   (default bench-out/; ~30 min on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-bench-out}
D=../shared/data
mkdir -p "$OUT"
HAIKU=(--weak claude-3-haiku-20240307 --strong claude-3-5-sonnet-20240620)
LLAMA=(--weak Meta-Llama-3.1-8B-Instruct --strong gpt-4o-2024-05-13)
ALPACA=(--weak claude-instant-1.2 --strong gpt-4-1106-preview)
run() { local name=$1; shift; echo "== $name: tierwise eval $*" | tee "$OUT/$name.txt"; uv run tierwise eval "$@" --json "$OUT/$name.json" --plot "$OUT/$name.png" 2>"$OUT/$name.log" | tee -a "$OUT/$name.txt"; }

# 5-fold cross-validation, seed 0
run cv-haiku-sonnet $D/zeroeval-code-reasoning $D/zeroeval-math-hard "${HAIKU[@]}"
run cv-llama-gpt4o $D/zeroeval-code-reasoning $D/zeroeval-math-hard $D/mmlu-pro "${LLAMA[@]}"
run cv-alpaca $D/alpaca-eval "${ALPACA[@]}"
run cv-mini-gpt4o $D/zeroeval-code-reasoning --weak gpt-4o-mini-2024-07-18 --strong gpt-4o-2024-08-06 \
    --strategy random --strategy oracle --strategy tfidf-lr --strategy embed-knn+lr \
    --strategy cascade --strategy cascade2+embed-knn+lr --strategy gated-cascade+embed-knn+lr
# cross-data-set: each test set is left out of its own training folders
run x-haiku-sonnet $D/zeroeval-code-reasoning $D/zeroeval-math-hard "${HAIKU[@]}" \
    --train $D/zeroeval-code-reasoning $D/zeroeval-math-hard $D/mmlu-pro
run x-llama-gpt4o $D/zeroeval-code-reasoning $D/zeroeval-math-hard $D/mmlu-pro "${LLAMA[@]}" \
    --train $D/zeroeval-code-reasoning $D/zeroeval-math-hard $D/mmlu-pro
run x-alpaca $D/alpaca-eval "${ALPACA[@]}" --train $D/zeroeval-code-reasoning $D/zeroeval-math-hard $D/mmlu-pro
# all models of each table, by cost and quality
run cv-all-models $D/zeroeval-code-reasoning $D/zeroeval-math-hard $D/mmlu-pro $D/alpaca-eval
run x-all-models $D/zeroeval-math-hard --train $D/zeroeval-code-reasoning
# decision latency of the packaged router
uv run python scripts/bench_router_latency.py | tee "$OUT/latency.txt"
