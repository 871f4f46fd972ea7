"""Held-out accuracy on real speech: the default CRNN pipeline against bag-of-frames baselines.

Run from the repository root (needs ``../shared/data/keywords.npz``; skips when absent)::

    python -m benchmarks.bench_accuracy [--epochs 15] [--seeds 0 1 2] [--threads 2] [--limit N]

The keyword set has 10 spoken words, 3000 training and 1000 test clips of 1 s at 16 kHz, the
test clips spoken by voices never heard in training. Each row trains on the training clips and
reports accuracy on the test clips and the training time (features included):

- MFCC statistics (per-coefficient mean and std over time) + logistic regression / RBF SVC,
- ``MelSpectrogramTransformer -> CRNNClassifier(max_epochs=E, random_state=seed)``, the
  classifier's other parameters left at their defaults ("defaults"), then with the training
  parameters of docs/training.md added one group at a time: "+ early stopping"
  (``validation_fraction=0.1, early_stopping=True``), "+ SpecAugment" (``freq_mask=8,
  time_mask=10``: up to an eighth of the 64 mel bands and 0.1 s per mask, 2 masks each),
  "+ mixup" (``mixup=0.2``) and "+ all" (the three together).

``--limit N`` keeps N clips of each split (the same number of every word), to check that the
script runs; its numbers mean nothing.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.svm import SVC

from sk_crnn import CRNNClassifier, MelSpectrogramTransformer
from sk_crnn.baselines import mean_std_pool

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SR = 16000
# Speech front end: 32 ms windows, 10 ms hop, 64 mel bands up to 8 kHz.
MEL = dict(sr=SR, n_fft=512, hop_length=160, n_mels=64)


def load_keywords():
    sys.path.insert(0, str(DATA))
    from load_keywords import load

    return load(str(DATA / "keywords.npz"))


def mfcc_baseline(classifier):
    return make_pipeline(MelSpectrogramTransformer(n_mfcc=20, **MEL),
                         FunctionTransformer(mean_std_pool), StandardScaler(), classifier)


EARLY_STOPPING = dict(validation_fraction=0.1, early_stopping=True)
SPEC_AUGMENT = dict(freq_mask=8, time_mask=10)
MIXUP = dict(mixup=0.2)
CRNN_ROWS = [
    ("defaults", {}),
    ("+ early stopping", EARLY_STOPPING),
    ("+ SpecAugment", SPEC_AUGMENT),
    ("+ mixup", MIXUP),
    ("+ all", {**EARLY_STOPPING, **SPEC_AUGMENT, **MIXUP}),
]


def crnn_pipeline(epochs, seed, **params):
    return make_pipeline(MelSpectrogramTransformer(**MEL),
                         CRNNClassifier(max_epochs=epochs, random_state=seed, **params))


def limit_per_word(X, y, n):
    """The first ``n`` clips of ``X``, the same number of each word (at least 2)."""
    words = np.unique(y)
    per_word = max(n // len(words), 2)
    keep = np.sort(np.concatenate([np.flatnonzero(y == w)[:per_word] for w in words]))
    return X[keep], y[keep]


def evaluate(make_model, X_train, y_train, X_test, y_test):
    model = make_model()
    start = time.perf_counter()
    model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    return model.score(X_test, y_test), seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rows", nargs="+", default=None,
                        help="CRNN rows to run (labels such as defaults '+ mixup'); default all")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None,
                        help="clips per split (100 or more: the 10%% validation split needs "
                             "every word), to check that the script runs")
    parser.add_argument("--train-limit", type=int, default=None,
                        help="training clips only (the full test split is kept)")
    args = parser.parse_args()
    if not (DATA / "keywords.npz").exists():
        print(f"skipped: {DATA / 'keywords.npz'} is absent")
        return
    torch.set_num_threads(args.threads)
    X_train, y_train, X_test, y_test = load_keywords()
    if args.limit:
        X_train, y_train = limit_per_word(X_train, y_train, args.limit)
        X_test, y_test = limit_per_word(X_test, y_test, args.limit)
    if args.train_limit:
        X_train, y_train = limit_per_word(X_train, y_train, args.train_limit)
    print(f"keywords: {len(X_train)} train / {len(X_test)} test clips, unseen test voices; "
          f"features {MEL}; {args.threads} torch threads")
    rows = [
        ("MFCC stats + logistic regression",
         [lambda: mfcc_baseline(LogisticRegression(max_iter=3000))]),
        ("MFCC stats + RBF SVC", [lambda: mfcc_baseline(SVC(C=10))]),
        *(
            (f"CRNN(max_epochs={args.epochs}) {label}",
             [lambda s=s, p=params: crnn_pipeline(args.epochs, s, **p) for s in args.seeds])
            for label, params in CRNN_ROWS
            if args.rows is None or label in args.rows
        ),
    ]
    print(f"{'model':40s} {'accuracy (mean +/- std over runs)':>34s} {'train s':>9s}")
    for name, makers in rows:
        results = [evaluate(m, X_train, y_train, X_test, y_test) for m in makers]
        acc = np.array([r[0] for r in results])
        secs = np.mean([r[1] for r in results])
        spread = f"+/- {acc.std():.3f} ({len(acc)} seeds)" if len(acc) > 1 else ""
        print(f"{name:40s} {acc.mean():12.3f} {spread:>21s} {secs:9.1f}", flush=True)


if __name__ == "__main__":
    main()
