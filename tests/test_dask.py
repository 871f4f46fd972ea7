"""Hyper-parameter search on a local Dask cluster of worker processes, and torch's threads there.

The cluster tests skip when ``distributed`` is not installed (``pip install sk-crnn[dask]``).
"""

import os
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import make_pipeline
from skorch.callbacks import Callback

from sk_crnn import CRNNClassifier, MelSpectrogramTransformer
from sk_crnn._parallel import worker_thread_limit
from sk_crnn.datasets import make_tone_clips

SR = 8000
GRID = {"crnnclassifier__lr": [1e-3, 3e-3], "crnnclassifier__module__rnn_type": ["gru", "lstm"]}


class ThreadProbe(Callback):
    """Records torch's thread count at the start of training."""

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        net.torch_threads_seen_ = torch.get_num_threads()


def tiny_pipeline(dtype="float32", **crnn_params):
    params = dict(max_epochs=2, module__conv_channels=(4,), module__rnn_hidden=8, random_state=0)
    return make_pipeline(
        MelSpectrogramTransformer(sr=SR, n_fft=256, hop_length=128, n_mels=16, dtype=dtype),
        CRNNClassifier(**{**params, **crnn_params}),
    )


@pytest.fixture(scope="module")
def clips():
    return make_tone_clips(40, sr=SR, duration=0.25, random_state=0)


@pytest.fixture(scope="module")
def client(request):
    """A Client of 2 worker processes x 1 thread on loopback, closed after the module."""
    distributed = pytest.importorskip("distributed")
    environ = dict(os.environ)  # the nannies run in this process and set variables here
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None)
    client = distributed.Client(cluster)

    def close():
        client.close()
        cluster.close()
        os.environ.clear()
        os.environ.update(environ)

    request.addfinalizer(close)
    return client


@pytest.mark.slow  # a local Dask cluster and two searches (about 10 s)
def test_grid_search_on_dask_matches_local_search(client, clips):
    X, y = clips
    local = GridSearchCV(tiny_pipeline(), GRID, cv=2, n_jobs=1).fit(X, y)
    with joblib.parallel_backend("dask"):
        remote = GridSearchCV(tiny_pipeline(), GRID, cv=2, n_jobs=-1).fit(X, y)

    assert remote.best_params_ == local.best_params_
    assert_allclose(remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"])
    assert_allclose(remote.best_estimator_.predict_proba(X),
                    local.best_estimator_.predict_proba(X), rtol=1e-5, atol=1e-6)


def _torch_threads():
    return torch.get_num_threads()


def _set_torch_threads(n):
    torch.set_num_threads(n)  # per thread with OpenMP: this worker's task thread
    return torch.get_num_threads()


@pytest.mark.slow  # about 10 s on 2 cores
def test_fits_on_dask_workers_use_one_torch_thread(client, clips):
    # Dask's nanny starts workers with OMP_NUM_THREADS=1 unless the environment says
    # otherwise; give each worker's task thread 2 torch threads, as a worker started without
    # that setting on a 2-core machine has, so that only worker_thread_limit brings fits to 1.
    workers = list(client.scheduler_info()["workers"])
    for address in workers:
        future = client.submit(_set_torch_threads, 2, workers=[address], pure=False)
        assert future.result() == 2
    X, y = clips
    pipe = tiny_pipeline(max_epochs=1, callbacks=[("threads", ThreadProbe())])
    with joblib.parallel_backend("dask"):
        result = cross_validate(pipe, X, y, cv=2, n_jobs=-1, return_estimator=True)
    seen = [fitted[-1].torch_threads_seen_ for fitted in result["estimator"]]
    after = [client.submit(_torch_threads, workers=[address], pure=False).result()
             for address in workers]
    for address in workers:
        client.submit(_set_torch_threads, 1, workers=[address], pure=False).result()
    assert seen == [1, 1]
    assert after == [2, 2]  # restored after each fit


def _threads_inside_and_after_limit(start):
    torch.set_num_threads(start)
    with worker_thread_limit():
        inside = torch.get_num_threads()
    return inside, torch.get_num_threads()


def test_worker_thread_limit_lowers_threads_in_a_worker_and_restores_them(client):
    future = client.submit(_threads_inside_and_after_limit, 2, pure=False)
    assert future.result() == (1, 2)


@pytest.mark.parametrize("nthreads, start, inside", [(1, 2, 1), (4, 8, 2), (2, 8, 2),
                                                     (4, 2, 1), (1, 1, 1)])
def test_worker_thread_limit_arithmetic(monkeypatch, nthreads, start, inside):
    import sk_crnn._parallel as parallel

    monkeypatch.setattr(parallel, "_dask_worker_nthreads", lambda: nthreads)
    monkeypatch.setattr(parallel, "_base_threads", None)  # as in a fresh worker process
    before = torch.get_num_threads()
    try:
        assert _threads_inside_and_after_limit(start) == (inside, start)
    finally:
        torch.set_num_threads(before)


def test_worker_thread_limit_concurrent_tasks_share_from_the_same_base(monkeypatch):
    # A second task of a 2-thread worker starts while the first has lowered torch from 4 to 2
    # threads: it gets 2 as well, not 2 // 2.
    import sk_crnn._parallel as parallel

    monkeypatch.setattr(parallel, "_dask_worker_nthreads", lambda: 2)
    monkeypatch.setattr(parallel, "_base_threads", None)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(4)
        with worker_thread_limit():
            first = torch.get_num_threads()
            with worker_thread_limit():
                second = torch.get_num_threads()
        assert (first, second, torch.get_num_threads()) == (2, 2, 4)
    finally:
        torch.set_num_threads(before)


@pytest.mark.slow  # two worker processes that import torch: about 16 s
def test_loky_workers_give_each_fit_its_share_of_the_cores(clips):
    # joblib's loky backend sets OMP_NUM_THREADS in its workers to cores // n_jobs (or to the
    # parent's OMP_NUM_THREADS where that is set); torch follows it, so two parallel fits on
    # 2 cores use one thread each.
    X, y = clips
    pipe = tiny_pipeline(max_epochs=1, callbacks=[("threads", ThreadProbe())])
    result = cross_validate(pipe, X, y, cv=2, n_jobs=2, return_estimator=True)
    seen = [fitted[-1].torch_threads_seen_ for fitted in result["estimator"]]
    expected = int(os.environ.get("OMP_NUM_THREADS", max(1, joblib.cpu_count() // 2)))
    assert seen == [expected] * 2


def test_worker_thread_limit_does_nothing_outside_a_worker():
    before = torch.get_num_threads()
    try:
        assert _threads_inside_and_after_limit(2) == (2, 2)
    finally:
        torch.set_num_threads(before)


def test_worker_thread_limit_does_not_import_distributed():
    code = textwrap.dedent("""
        import sys
        from sk_crnn._parallel import worker_thread_limit
        with worker_thread_limit():
            pass
        assert "distributed" not in sys.modules, "distributed was imported"
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_float16_features_train_and_predict(clips):
    X, y = clips
    pipe = tiny_pipeline(dtype="float16").fit(X, y)
    features = pipe[0].transform(X[:4])
    assert features.dtype == np.float16
    proba = pipe.predict_proba(X)
    assert proba.shape == (len(X), 2)
    assert np.isfinite(proba).all()
    assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    # float16 features are rounded float32 ones: the fitted nets predict nearly alike
    reference = tiny_pipeline().fit(X, y).predict_proba(X)
    assert_allclose(proba, reference, atol=0.05)


def test_same_thread_count_gives_the_same_search_whatever_n_jobs(clips):
    # loky workers get cores // n_jobs torch threads; with the parent on the same count, the
    # fold scores of n_jobs=1 and n_jobs=2 are identical (docs/scaling.md).
    X, y = clips
    grid = {"crnnclassifier__lr": [1e-3, 3e-3]}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        one = GridSearchCV(tiny_pipeline(max_epochs=4), grid, cv=2, n_jobs=1).fit(X, y)
        two = GridSearchCV(tiny_pipeline(max_epochs=4), grid, cv=2, n_jobs=2).fit(X, y)
    finally:
        torch.set_num_threads(threads)
    for k in range(2):
        assert_array_equal(one.cv_results_[f"split{k}_test_score"],
                           two.cv_results_[f"split{k}_test_score"])
    assert_array_equal(one.best_estimator_.predict_proba(X), two.best_estimator_.predict_proba(X))
