"""Retrieval of unseen audio: MFCC statistics, CRNNClassifier embeddings and CRNNEmbedder.

Run from the repository root (needs ``../shared/data/``; a missing data set is skipped)::

    python -m benchmarks.bench_retrieval [--data instruments keywords] [--seeds 0 1 2]
        [--epochs 15] [--rows mfcc classifier embedder supcon] [--limit N]

Each data set's training clips train the models; each test clip is then a query against the
other test clips (leave-one-out, cosine similarity, relevant = same label), so the queries
are instruments (``instruments.npz``: two programs per family heard only in test) or voices
(``keywords.npz``) never heard in training. Rows:

- ``mfcc``: MFCC statistics (mean and std of 20 MFCCs over time, 32 ms / 10 ms frames),
  standardised with the training clips' statistics; no training, so no seeds.
- ``classifier``: ``make_pipeline(MelSpectrogramTransformer(sr=16000),
  CRNNClassifier(max_epochs=E, random_state=seed))`` and its ``transform`` (the pooled
  recurrent state before the output layer).
- ``embedder``: the same with ``CRNNEmbedder(max_epochs=E, random_state=seed)``, defaults
  (normalised softmax over cosine similarities to class proxies).
- ``supcon``: ``CRNNEmbedder(objective="supcon")``, the supervised contrastive loss.

It prints precision@10, mean average precision and training seconds per row and seed, then
per row the mean, the worst seed and the ratio of precision@10 to the ``classifier`` row.
``--limit N`` keeps N clips of each split, to check that the script runs.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from sk_crnn import CRNNClassifier, CRNNEmbedder, MelSpectrogramTransformer
from sk_crnn.baselines import mean_std_pool
from sk_crnn.metrics import mean_average_precision, precision_at_k

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SR = 16000


def load(name):
    path = DATA / f"{name}.npz"
    if not path.exists():
        return None
    sys.path.insert(0, str(DATA))
    module = __import__(f"load_{name}")
    return module.load(str(path))


def model(row, seed, epochs):
    mel = MelSpectrogramTransformer(sr=SR)
    if row == "mfcc":
        return make_pipeline(
            MelSpectrogramTransformer(sr=SR, n_fft=512, hop_length=160, n_mels=40, n_mfcc=20),
            FunctionTransformer(mean_std_pool), StandardScaler())
    if row == "classifier":
        return make_pipeline(mel, CRNNClassifier(max_epochs=epochs, random_state=seed))
    if row == "embedder":
        return make_pipeline(mel, CRNNEmbedder(max_epochs=epochs, random_state=seed))
    if row == "supcon":
        return make_pipeline(mel, CRNNEmbedder(max_epochs=epochs, objective="supcon",
                                               random_state=seed))
    raise ValueError(row)


def limited(X, y, n):
    if n is None:
        return X, y
    keep = np.random.RandomState(0).permutation(len(y))[:n]
    return X[keep], y[keep]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", default=["instruments", "keywords"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--rows", nargs="+", default=["mfcc", "classifier", "embedder"])
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args(argv)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, epochs {args.epochs}")
    for name in args.data:
        data = load(name)
        if data is None:
            print(f"{name}: ../shared/data/{name}.npz not found, skipped")
            continue
        X_train, y_train, X_test, y_test = data
        X_train, y_train = limited(X_train, y_train, args.limit)
        X_test, y_test = limited(X_test, y_test, args.limit)
        print(f"\n## {name}: {len(y_train)} train, {len(y_test)} test clips, "
              f"{len(np.unique(y_train))} labels")
        print("| row | seed | precision@10 | mAP | train s |")
        print("| --- | --- | --- | --- | --- |")
        results = {}
        for row in args.rows:
            for seed in ([None] if row == "mfcc" else args.seeds):
                start = time.perf_counter()
                pipe = model(row, seed, args.epochs).fit(X_train, y_train)
                seconds = time.perf_counter() - start
                emb = pipe.transform(X_test)
                p10 = precision_at_k(y_test, emb, k=10)
                m_ap = mean_average_precision(y_test, emb)
                results.setdefault(row, []).append((p10, m_ap, seconds))
                print(f"| {row} | {seed if seed is not None else '-'} | {p10:.3f} | "
                      f"{m_ap:.3f} | {seconds:.0f} |", flush=True)
        print("\n| row | mean p@10 | worst p@10 | mean mAP | mean train s | p@10 / classifier |")
        print("| --- | --- | --- | --- | --- | --- |")
        ref = np.mean([r[0] for r in results["classifier"]]) if "classifier" in results else None
        for row, rows in results.items():
            p10s = [r[0] for r in rows]
            ratio = f"{np.mean(p10s) / ref:.3f}" if ref else "-"
            print(f"| {row} | {np.mean(p10s):.3f} | {min(p10s):.3f} | "
                  f"{np.mean([r[1] for r in rows]):.3f} | {np.mean([r[2] for r in rows]):.0f} | "
                  f"{ratio} |", flush=True)


if __name__ == "__main__":
    main()
