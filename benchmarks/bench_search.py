"""Best cross-validated accuracy per CPU-minute: Optuna with pruning against GridSearchCV.

Run from the repository root, on one thread (``keywords`` needs ``../shared/data/``; it is
skipped when absent; ``tones`` is generated)::

    OMP_NUM_THREADS=1 python -m benchmarks.bench_search [--data keywords] [--n-train 600]
        [--n-test 400] [--epochs 6] [--cv 2] [--pruner halving] [--seed 0]

One grid, the learning rate x the network's conv channels (3 x 2 = 6 candidates), searched
two ways on the same folds of the same clips:

- ``grid``: ``GridSearchCV`` over ``make_pipeline(MelSpectrogramTransformer, CRNNClassifier)``,
  each candidate fitted ``--epochs`` epochs on each fold;
- ``optuna``: ``OptunaSearchCV(enable_pruning=True, max_iter=--epochs)`` over the same
  pipeline with ``max_epochs=1``, so each ``partial_fit`` of :class:`sk_crnn.pipeline.
  CRNNPipeline` is one epoch and the mean fold accuracy is reported to Optuna after each;
  a ``GridSampler`` visits every grid point once (6 trials) in a seeded order and the pruner
  (``halving``: successive halving, reduction factor 3; ``median``: below the median of the
  earlier trials at the same epoch, from the second epoch and the third trial) stops the
  poor trials early.

Both train with a constant learning rate and no mixup (``lr_schedule=None, mixup=0.0``): the
classifier's default cosine schedule spans one call's ``max_epochs``, which epoch-wise
training would restart at every call. The nets have ``random_state=None`` and torch's RNG is
seeded once before each search: an int ``random_state`` reseeds at every ``partial_fit``
call, so every epoch after the first of the pruned search would replay one batch order and
one set of dropout masks. Neither search refits. Time is this process's CPU time
(``time.process_time``), so that other load on the machine counts less than in wall time.

Printed: per method the trials run to the last epoch, the epochs trained (folds included),
the CPU minutes and CPU seconds per epoch trained (the pruned search also scores the held-out
fold after every epoch, and its pipeline computes the features of both folds again at every
call), the best mean CV accuracy, that accuracy per CPU minute, the CPU minutes
until the method first came within 0.01 of the grid's best, and the held-out accuracy of the
chosen parameters (refitted for ``--epochs`` epochs on the training clips, not timed); then
the ratios optuna / grid.
"""

import argparse
import itertools
import time
import warnings

import numpy as np
import torch
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from sk_crnn import CRNNClassifier, MelSpectrogramTransformer, make_pipeline
from sk_crnn.datasets import make_tone_clips

from .bench_retrieval import load  # a data set of ../shared/data, or None when absent

SR = 16000
GRID = {"crnnclassifier__lr": [3e-4, 1e-3, 3e-3],
        "crnnclassifier__module__conv_channels": [(8, 16), (16, 32)]}
N_CANDIDATES = len(list(itertools.product(*GRID.values())))


def make_pipe(epochs):
    # random_state=None: the nets draw from torch's global RNG, seeded once per search (an
    # int random_state reseeds every partial_fit call: every epoch after the first of the
    # pruned search would replay one batch order and one set of dropout masks)
    return make_pipeline(
        MelSpectrogramTransformer(sr=SR, n_fft=512, hop_length=256, n_mels=40),
        CRNNClassifier(max_epochs=epochs, module__rnn_hidden=32, batch_size=32,
                       lr_schedule=None, mixup=0.0),
    )


def per_label(X, y, n, rng):
    """``n`` clips, the same number of each label."""
    labels = np.unique(y)
    keep = np.concatenate([rng.permutation(np.flatnonzero(y == label))[:n // len(labels)]
                           for label in labels])
    keep = rng.permutation(keep)
    return X[keep], y[keep]


def data(name, n_train, n_test, seed):
    if name == "tones":
        X, y = make_tone_clips(n_train + n_test, sr=SR, duration=0.5, n_classes=8,
                               noise=0.3, random_state=seed)
        return X[:n_train], y[:n_train], X[n_train:], y[n_train:]
    loaded = load(name)
    if loaded is None:
        return None
    X_train, y_train, X_test, y_test = loaded
    rng = np.random.RandomState(seed)
    return (*per_label(X_train, y_train, n_train, rng), *per_label(X_test, y_test, n_test, rng))


class TimedAccuracy:
    """The accuracy scorer, noting the CPU time of each call (one per fold and epoch)."""

    def __init__(self):
        self.calls = []

    def __call__(self, estimator, X, y):
        score = accuracy_score(y, estimator.predict(X))
        self.calls.append((time.process_time(), score))
        return score


def run_grid(X, y, cv, epochs, seed):
    scorer = TimedAccuracy()
    torch.manual_seed(seed)
    start = time.process_time()
    search = GridSearchCV(make_pipe(epochs), GRID, cv=cv, scoring=scorer, refit=False)
    search.fit(X, y)
    cpu = time.process_time() - start
    scores = search.cv_results_["mean_test_score"]
    # n_jobs=1 fits candidate after candidate, each on every fold in turn
    done = [t - start for t, _ in scorer.calls[cv.get_n_splits() - 1::cv.get_n_splits()]]
    best_so_far = np.maximum.accumulate(scores)
    return {"params": search.cv_results_["params"][int(np.argmax(scores))],
            "best": float(scores.max()), "cpu": cpu, "full": len(scores),
            "epochs": len(scores) * cv.get_n_splits() * epochs,
            "timeline": list(zip(done, best_so_far))}


def run_optuna(X, y, cv, epochs, seed, pruner_name):
    import optuna
    from optuna.distributions import CategoricalDistribution
    from optuna.exceptions import ExperimentalWarning
    from optuna_integration import OptunaSearchCV

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if pruner_name == "halving":
        pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    else:
        pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
    torch.manual_seed(seed)
    timeline, start = [], time.process_time()

    def note(study, trial):
        complete = [t.value for t in study.trials if t.state.name == "COMPLETE"]
        timeline.append((time.process_time() - start, max(complete, default=np.nan)))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        # tuples of conv channels are categorical choices that only in-memory studies keep
        warnings.filterwarnings("ignore", "Choices for a categorical distribution")
        warnings.filterwarnings("ignore", ".*contains a value with the type of <class 'tuple'>")
        warnings.filterwarnings("ignore", "`optuna.terminator` module has been deprecated")
        study = optuna.create_study(direction="maximize", pruner=pruner,
                                    sampler=optuna.samplers.GridSampler(GRID, seed=seed))
        search = OptunaSearchCV(
            make_pipe(1), {k: CategoricalDistribution(v) for k, v in GRID.items()},
            cv=cv, enable_pruning=True, max_iter=epochs, n_trials=N_CANDIDATES, study=study,
            scoring=TimedAccuracy(), refit=False, callbacks=[note])
        search.fit(X, y)
    cpu = time.process_time() - start
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    trained = sum(len(t.intermediate_values) for t in study.trials)
    return {"params": study.best_params, "best": float(study.best_value), "cpu": cpu,
            "full": len(complete), "epochs": trained * cv.get_n_splits(),
            "timeline": timeline}


def minutes_to_reach(timeline, target):
    for cpu, best in timeline:
        if best >= target:
            return cpu / 60
    return float("nan")


def held_out(params, X_train, y_train, X_test, y_test, epochs, seed):
    torch.manual_seed(seed)
    pipe = make_pipe(epochs).set_params(**params)
    return float(pipe.fit(X_train, y_train).score(X_test, y_test))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="keywords", choices=["keywords", "tones"])
    parser.add_argument("--n-train", type=int, default=600)
    parser.add_argument("--n-test", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--cv", type=int, default=2)
    parser.add_argument("--pruner", default="halving", choices=["halving", "median"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        import optuna  # noqa: F401
        import optuna_integration  # noqa: F401
    except ImportError:
        print("skipped: needs optuna and optuna-integration (pip install optuna-integration)")
        return
    loaded = data(args.data, args.n_train, args.n_test, args.seed)
    if loaded is None:
        print(f"{args.data}: ../shared/data/{args.data}.npz not found, skipped")
        return
    X_train, y_train, X_test, y_test = loaded
    cv = StratifiedKFold(args.cv)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); {args.data}: "
          f"{len(y_train)} train / {len(y_test)} test clips, {len(np.unique(y_train))} labels; "
          f"grid {len(GRID['crnnclassifier__lr'])} lr x "
          f"{len(GRID['crnnclassifier__module__conv_channels'])} conv channels, {args.cv} folds, "
          f"{args.epochs} epochs; pruner {args.pruner}")
    make_pipe(1).fit(X_train[:64], y_train[:64])  # warm-up: lazy imports, allocator

    results = {"grid": run_grid(X_train, y_train, cv, args.epochs, args.seed),
               "optuna": run_optuna(X_train, y_train, cv, args.epochs, args.seed, args.pruner)}
    target = results["grid"]["best"] - 0.01
    print("\n| method | trials to the last epoch | epochs trained | CPU min | CPU s / epoch | "
          "best CV acc | best CV acc / CPU min | CPU min to grid best - 0.01 | held-out acc "
          "| chosen |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, r in results.items():
        r["reach"] = minutes_to_reach(r["timeline"], target)
        r["per_min"] = r["best"] / (r["cpu"] / 60)
        r["test"] = held_out(r["params"], X_train, y_train, X_test, y_test, args.epochs,
                             args.seed)
        chosen = ", ".join(f"{k.split('__')[-1]}={v}" for k, v in r["params"].items())
        print(f"| {name} | {r['full']}/{N_CANDIDATES} | {r['epochs']} | {r['cpu'] / 60:.2f} | "
              f"{r['cpu'] / r['epochs']:.2f} | {r['best']:.3f} | {r['per_min']:.3f} | "
              f"{r['reach']:.2f} | {r['test']:.3f} | {chosen} |", flush=True)
    grid, opt = results["grid"], results["optuna"]
    print(f"\noptuna / grid: CPU time {opt['cpu'] / grid['cpu']:.2f}, epochs trained "
          f"{opt['epochs'] / grid['epochs']:.2f}, best CV accuracy "
          f"{opt['best'] / grid['best']:.3f}, best CV accuracy per CPU minute "
          f"{opt['per_min'] / grid['per_min']:.2f}, CPU time to the grid's best - 0.01 "
          f"{opt['reach'] / grid['reach']:.2f}, held-out accuracy "
          f"{opt['test'] / grid['test']:.3f}")


if __name__ == "__main__":
    main()
