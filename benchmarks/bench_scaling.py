"""GridSearchCV wall time with n_jobs=1, n_jobs=2 and a Dask LocalCluster, and torch's threads.

Run from the repository root::

    python -m benchmarks.bench_scaling [--n-clips 400] [--epochs 3] [--no-dask]

A grid of 4 candidates x 3 folds of a MelSpectrogramTransformer -> CRNNClassifier pipeline on
generated audio. With n_jobs=2 on 2 cores, joblib's loky workers each get one torch thread
(joblib sets OMP_NUM_THREADS in its workers), so the two fits share the cores instead of
oversubscribing them. The Dask row runs the same search with ``n_jobs=-1`` inside
``joblib.parallel_backend("dask")`` on a LocalCluster of 2 worker processes x 1 thread (needs
``pip install "sk-crnn[dask]"``); its time includes sending the data to the workers but not
starting the cluster.
"""

import argparse
import time

import joblib
import torch
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from skorch.callbacks import Callback

from sk_crnn import CRNNClassifier, MelSpectrogramTransformer
from sk_crnn.datasets import make_event_sequences


class ThreadProbe(Callback):
    """Records torch's thread count inside each fit (also in joblib workers)."""

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        net.torch_threads_seen_ = torch.get_num_threads()


def search(n_jobs, X, y, epochs):
    pipe = make_pipeline(
        MelSpectrogramTransformer(sr=16000, n_fft=512, hop_length=256, n_mels=40),
        CRNNClassifier(max_epochs=epochs, module__conv_channels=(16, 32), module__rnn_hidden=32,
                       random_state=0, callbacks=[("threads", ThreadProbe())]),
    )
    grid = {"crnnclassifier__lr": [1e-3, 3e-3],
            "crnnclassifier__module__rnn_type": ["gru", "lstm"]}
    gs = GridSearchCV(pipe, grid, cv=3, n_jobs=n_jobs, refit=False, return_train_score=False)
    start = time.perf_counter()
    gs.fit(X, y)
    return time.perf_counter() - start, gs


def threads_in_workers(n_jobs, X, y):
    from sklearn.model_selection import cross_validate

    pipe = make_pipeline(
        MelSpectrogramTransformer(sr=16000, n_fft=512, hop_length=256, n_mels=40),
        CRNNClassifier(max_epochs=1, module__conv_channels=(4,), module__rnn_hidden=4,
                       callbacks=[("threads", ThreadProbe())]),
    )
    res = cross_validate(pipe, X, y, cv=2, n_jobs=n_jobs, return_estimator=True)
    return sorted({e[-1].torch_threads_seen_ for e in res["estimator"]})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-clips", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--no-dask", action="store_true", help="skip the LocalCluster row")
    args = parser.parse_args()
    X, y = make_event_sequences(args.n_clips, sr=16000, random_state=0)
    print(f"{joblib.cpu_count()} cores; torch threads in this process: "
          f"{torch.get_num_threads()}; grid 4 candidates x 3 folds, {args.epochs} epochs, "
          f"{args.n_clips} clips")
    times = {}
    for n_jobs in (1, 2):
        seconds, gs = search(n_jobs, X, y, args.epochs)
        times[n_jobs] = seconds
        threads = threads_in_workers(n_jobs, X[:40], y[:40])
        report(f"n_jobs={n_jobs}", seconds, times[1], threads, gs)
    if args.no_dask:
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        print("dask: skipped, distributed is not installed (pip install 'sk-crnn[dask]')")
        return
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster):
        with joblib.parallel_backend("dask"):
            seconds, gs = search(-1, X, y, args.epochs)
            threads = threads_in_workers(-1, X[:40], y[:40])
    report("dask 2x1", seconds, times[1], threads, gs)


def report(name, seconds, baseline, threads, gs):
    print(f"{name:>8}: {seconds:7.1f} s  speed-up vs n_jobs=1 {baseline / seconds:5.2f}x  "
          f"torch threads per fit {threads}  "
          f"best mean CV accuracy {gs.cv_results_['mean_test_score'].max():.3f}", flush=True)


if __name__ == "__main__":
    main()
