"""GridSearchCV wall time with n_jobs=1, n_jobs=2 and a Dask LocalCluster, and torch's threads.

Run from the repository root::

    python -m benchmarks.bench_scaling [--n-clips 400] [--epochs 3] [--no-dask]
                                       [--no-oversubscribed]

A grid of 4 candidates x 3 folds of a MelSpectrogramTransformer -> CRNNClassifier pipeline on
generated audio. With n_jobs=2 on 2 cores, joblib's loky workers each get one torch thread
(joblib sets OMP_NUM_THREADS in its workers), so the two fits share the cores instead of
oversubscribing them. The Dask row runs the same search with ``n_jobs=-1`` inside
``joblib.parallel_backend("dask")`` on a LocalCluster of 2 worker processes x 1 thread (needs
``pip install "sk-crnn[dask]"``, with MALLOC_TRIM_THRESHOLD_ unset in the workers); its time
includes sending the data to the workers but not starting the cluster. A first line times one
fit with 1 and 2 torch threads: the second thread's gain bounds what n_jobs=2 can win over
n_jobs=1, whose single fit already uses both cores. The oversubscribed row shows what the
thread limit prevents (2 workers x 2 torch threads on 2 cores).
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


def make_pipe(epochs):
    return make_pipeline(
        MelSpectrogramTransformer(sr=16000, n_fft=512, hop_length=256, n_mels=40),
        CRNNClassifier(max_epochs=epochs, module__conv_channels=(16, 32), module__rnn_hidden=32,
                       random_state=0, callbacks=[("threads", ThreadProbe())]),
    )


def single_fit_seconds(n_threads, X, y, epochs):
    """Wall time of one fit on two thirds of the data with ``n_threads`` torch threads."""
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        n_train = 2 * len(X) // 3
        start = time.perf_counter()
        make_pipe(epochs).fit(X[:n_train], y[:n_train])
        return time.perf_counter() - start
    finally:
        torch.set_num_threads(previous)


def search(n_jobs, X, y, epochs):
    pipe = make_pipe(epochs)
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
    parser.add_argument("--no-oversubscribed", action="store_true",
                        help="skip the row with 2 torch threads in each of 2 workers")
    args = parser.parse_args()
    X, y = make_event_sequences(args.n_clips, sr=16000, random_state=0)
    print(f"{joblib.cpu_count()} cores; torch threads in this process: "
          f"{torch.get_num_threads()}; grid 4 candidates x 3 folds, {args.epochs} epochs, "
          f"{args.n_clips} clips")
    single_fit_seconds(1, X, y, 1)  # warm-up: torch's lazy imports, allocator
    one, two = (single_fit_seconds(n, X, y, args.epochs) for n in (1, 2))
    print(f"one fit: {one:.2f} s with 1 torch thread, {two:.2f} s with 2 "
          f"({one / two:.2f}x from the second thread); ceiling for n_jobs=2 over n_jobs=1: "
          f"{2 * two / one:.2f}x")
    times = {}
    for n_jobs in (1, 2):
        seconds, gs = search(n_jobs, X, y, args.epochs)
        times[n_jobs] = seconds
        threads = threads_in_workers(n_jobs, X[:40], y[:40])
        report(f"n_jobs={n_jobs}", seconds, times[1], threads, gs)
    # What the thread limit prevents: two loky workers with 2 torch threads each on 2 cores.
    if not args.no_oversubscribed:
        with joblib.parallel_backend("loky", inner_max_num_threads=2):
            seconds, gs = search(2, X, y, args.epochs)
            threads = threads_in_workers(2, X[:40], y[:40])
        report("n_jobs=2, 2 threads each (oversubscribed)", seconds, times[1], threads, gs)
    if args.no_dask:
        return
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError:
        print("dask: skipped, distributed is not installed (pip install 'sk-crnn[dask]')")
        return
    # Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 in the workers it spawns, which turns off
    # glibc's adaptive mmap threshold: every large tensor is then a fresh mmap and training runs
    # about 1.6x slower (docs/scaling.md). Unset it for the workers, as the docs recommend.
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}), \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                         dashboard_address=None) as cluster, Client(cluster):
        with joblib.parallel_backend("dask"):
            seconds, gs = search(-1, X, y, args.epochs)
            threads = threads_in_workers(-1, X[:40], y[:40])
    report("dask 2x1", seconds, times[1], threads, gs)


def report(name, seconds, baseline, threads, gs):
    print(f"{name}: {seconds:7.1f} s  speed-up vs n_jobs=1 {baseline / seconds:5.2f}x  "
          f"torch threads per fit {threads}  "
          f"best mean CV accuracy {gs.cv_results_['mean_test_score'].max():.3f}", flush=True)


if __name__ == "__main__":
    main()
