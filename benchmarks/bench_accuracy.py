"""Held-out accuracy on real speech: the default CRNN pipeline against bag-of-frames baselines.

Run from the repository root (needs ``../shared/data/keywords.npz``; skips when absent)::

    python -m benchmarks.bench_accuracy [--epochs 15] [--seeds 0 1 2] [--threads 2]

The keyword set has 10 spoken words, 3000 training and 1000 test clips of 1 s at 16 kHz, the
test clips spoken by voices never heard in training. Each row trains on the training clips and
reports accuracy on the test clips and the training time (features included):

- MFCC statistics (per-coefficient mean and std over time) + logistic regression / RBF SVC,
- ``MelSpectrogramTransformer -> CRNNClassifier(max_epochs=E, random_state=seed)``, the
  classifier's other parameters left at their defaults.
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
from sk_crnn.cli import mean_std_pool

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


def crnn_pipeline(epochs, seed):
    return make_pipeline(MelSpectrogramTransformer(**MEL),
                         CRNNClassifier(max_epochs=epochs, random_state=seed))


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
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if not (DATA / "keywords.npz").exists():
        print(f"skipped: {DATA / 'keywords.npz'} is absent")
        return
    torch.set_num_threads(args.threads)
    X_train, y_train, X_test, y_test = load_keywords()
    print(f"keywords: {len(X_train)} train / {len(X_test)} test clips, unseen test voices; "
          f"features {MEL}; {args.threads} torch threads")
    rows = [
        ("MFCC stats + logistic regression",
         [lambda: mfcc_baseline(LogisticRegression(max_iter=3000))]),
        ("MFCC stats + RBF SVC", [lambda: mfcc_baseline(SVC(C=10))]),
        (f"CRNNClassifier(max_epochs={args.epochs}) defaults",
         [lambda s=s: crnn_pipeline(args.epochs, s) for s in args.seeds]),
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
