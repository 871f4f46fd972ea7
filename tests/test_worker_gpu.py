"""Parallel workers take their own GPU round-robin (``device="cuda"``, several GPUs visible):
tested on the CPU with torch's CUDA queries mocked and the workers' identities faked."""

import os
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import sk_crnn._base
from sk_crnn import CRNNClassifier, _parallel
from sk_crnn._parallel import use_worker_gpu, worker_cuda_index


@pytest.fixture
def gpus(monkeypatch):
    """A machine with 3 visible GPUs, current device 0; ``set_device`` records its calls."""
    calls = []
    state = {"current": 0}

    def set_device(index):
        calls.append(index)
        state["current"] = index

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: state["current"])
    monkeypatch.setattr(torch.cuda, "set_device", set_device)
    return calls


def as_worker(monkeypatch, identity=None, dask_name=None):
    """Run as the child process of rank ``identity`` (loky's ``LokyProcess-<identity>``),
    as a Dask worker named ``dask_name``, or (both None) as the main process."""
    child = identity is not None
    fake = SimpleNamespace(
        parent_process=lambda: object() if child else None,
        current_process=lambda: SimpleNamespace(
            _identity=(identity,) if child and identity else (),
            name=f"LokyProcess-{identity}" if child else "MainProcess"))
    monkeypatch.setattr(_parallel, "multiprocessing", fake)
    worker = None if dask_name is None else SimpleNamespace(name=dask_name)
    monkeypatch.setattr(_parallel, "_dask_worker", lambda: worker)


def test_loky_workers_take_the_gpus_round_robin(gpus, monkeypatch):
    picked = []
    for identity in range(1, 7):  # LokyProcess-1 ... LokyProcess-6
        as_worker(monkeypatch, identity=identity)
        picked.append(use_worker_gpu("cuda"))
    assert picked == [0, 1, 2, 0, 1, 2]
    assert gpus == [1, 2, 0, 1, 2]  # the first worker's GPU 0 was already current


def test_dask_workers_take_the_gpu_of_their_number(gpus, monkeypatch):
    for name, expected in ((0, 0), (4, 1), ("5", 2)):
        as_worker(monkeypatch, identity=1, dask_name=name)  # a nanny's child process too
        assert worker_cuda_index("cuda") == expected
    as_worker(monkeypatch, identity=1, dask_name="tcp://10.0.0.1:4321")  # not a number
    assert worker_cuda_index("cuda") == os.getpid() % 3
    as_worker(monkeypatch, identity=0)  # a child process without a rank: its process id
    assert worker_cuda_index(torch.device("cuda")) == os.getpid() % 3


def test_only_the_bare_cuda_of_a_worker_with_several_gpus_moves(gpus, monkeypatch):
    as_worker(monkeypatch, identity=2)
    assert worker_cuda_index("cuda") == 1
    for device in ("cuda:0", "cuda:2", torch.device("cuda", 0), "cpu", torch.device("cpu")):
        assert worker_cuda_index(device) is None, device
        assert use_worker_gpu(device) is None
    as_worker(monkeypatch)  # the main process (and a search's refit) keeps its device
    assert use_worker_gpu("cuda") is None
    as_worker(monkeypatch, identity=2)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)  # one GPU: nothing to spread
    assert use_worker_gpu("cuda") is None
    assert gpus == []


def test_a_fresh_fit_asks_for_the_workers_gpu_and_a_warm_start_does_not(monkeypatch):
    asked = []
    monkeypatch.setattr(sk_crnn._base, "use_worker_gpu", asked.append)
    X = np.random.RandomState(0).randn(12, 8, 12).astype("float32")
    y = np.resize([0, 1], 12)
    clf = CRNNClassifier(module__conv_channels=(4,), module__rnn_hidden=4, max_epochs=1,
                         batch_size=6).fit(X, y)
    assert asked == [torch.device("cpu")]  # the parsed device, before the network is built
    clf.partial_fit(X, y)  # the weights stay where they are
    assert asked == [torch.device("cpu")]
    clf.fit(X, y)
    assert asked == [torch.device("cpu")] * 2
    assert clf.get_params()["device"] == "cpu"  # the parameter never changes
