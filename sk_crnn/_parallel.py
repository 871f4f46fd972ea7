"""Parallel workers: keep torch's intra-op threads within a worker's share of the cores, and
give each worker its own GPU when several are visible."""

import contextlib
import multiprocessing
import os
import sys
import threading

import torch

__all__ = ["use_worker_gpu", "worker_cuda_index", "worker_thread_limit"]


#: torch's thread count in this process before any limit, recorded by the first limited fit
#: (concurrent fits in one worker must not divide a count another fit already lowered).
_base_threads = None
_base_lock = threading.Lock()


def _dask_worker():
    """The dask.distributed worker running this code, or None elsewhere."""
    if sys.modules.get("distributed") is None:  # never import distributed just to check
        return None
    try:
        from distributed import get_worker

        return get_worker()
    except (ImportError, ValueError):  # get_worker raises ValueError outside a worker task
        return None


def _dask_worker_nthreads():
    """Thread count of the dask.distributed worker running this code, or None elsewhere."""
    worker = _dask_worker()
    if worker is None:
        return None
    state = getattr(worker, "state", None)
    nthreads = getattr(state, "nthreads", None) or getattr(worker, "nthreads", None)
    return int(nthreads) if nthreads else None


@contextlib.contextmanager
def worker_thread_limit():
    """Cap torch's threads at the share of one task of the Dask worker running the fit.

    Inside a task of a ``dask.distributed`` worker (for example a fit that
    ``joblib.parallel_backend("dask")`` sent there), torch's thread count is lowered to
    ``max(1, min(nthreads, n // nthreads))`` for the duration of the block, where ``n`` is
    torch's thread count when the process's first limited fit started, ``nthreads``
    is the worker's thread count (the number of tasks it runs at once), and restored
    afterwards. Torch otherwise starts one thread per core, so several worker processes on
    one machine, or several tasks in one worker, would each use every core: the cap keeps a
    task to at most the worker's thread count and to its slice of the threads torch has. The
    limit only lowers the count: a worker whose torch already uses one thread (Dask's nanny
    sets ``OMP_NUM_THREADS=1`` in the workers it spawns, by default) keeps it.

    Elsewhere, including joblib's loky workers (which set ``OMP_NUM_THREADS`` themselves) and
    when ``distributed`` is not imported, the block runs unchanged.

    Notes
    -----
    ``torch.set_num_threads`` is per process (per calling thread with OpenMP), and a worker
    does not know how many other workers share its machine, so the cap can still leave more
    threads than cores (for example 2 threads per fit for 8 fits in two 4-thread workers on
    8 cores). Start workers with one thread each (``--nthreads 1``) and one worker process
    per core for CPU training.
    """
    nthreads = _dask_worker_nthreads()
    if nthreads is None:
        yield
        return
    global _base_threads
    previous = torch.get_num_threads()
    with _base_lock:
        if _base_threads is None:
            _base_threads = previous
        base = _base_threads
    limit = max(1, min(nthreads, base // nthreads))
    if previous <= limit:
        yield
        return
    torch.set_num_threads(limit)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _worker_index():
    """The number of the parallel worker running this code, or None in the main process.

    A Dask worker: its name when it is a number (a ``LocalCluster`` names its workers 0, 1,
    ...), else its process id. A child process (joblib's loky workers, ``multiprocessing``
    pools): its rank among the processes its parent started, from 0 (loky's
    ``LokyProcess-1`` is 0), else its process id.
    """
    worker = _dask_worker()
    if worker is not None:
        name = getattr(worker, "name", None)
        if isinstance(name, str) and name.isdigit():
            name = int(name)
        return name if isinstance(name, int) and not isinstance(name, bool) else os.getpid()
    if multiprocessing.parent_process() is None:
        return None
    identity = getattr(multiprocessing.current_process(), "_identity", ())
    return identity[-1] - 1 if identity else os.getpid()


def worker_cuda_index(device):
    """The GPU that a parallel worker takes for a fit on ``device``, round-robin.

    Parameters
    ----------
    device : str or torch.device
        The estimator's device.

    Returns
    -------
    index : int or None
        ``worker number % torch.cuda.device_count()`` when ``device`` is the bare ``"cuda"``,
        several GPUs are visible and the code runs in a parallel worker (see
        :func:`_worker_index`); None otherwise: in the main process, for ``"cpu"``, for an
        explicit ``"cuda:N"`` (never changed) and with one GPU.
    """
    device = torch.device(device)
    if device.type != "cuda" or device.index is not None:
        return None
    n_gpus = torch.cuda.device_count()
    if n_gpus < 2:
        return None
    index = _worker_index()
    return None if index is None else index % n_gpus


def use_worker_gpu(device):
    """In a parallel worker, make the bare ``"cuda"`` this worker's own GPU.

    With ``device="cuda"``, tensors go to torch's current CUDA device, which is ``cuda:0`` in
    every process unless set: the fits of a ``GridSearchCV(n_jobs=k)`` on loky or Dask workers
    would all share the first GPU. This sets the current device of the worker (of the calling
    thread, as CUDA does) to :func:`worker_cuda_index`'s GPU, so its fits and their
    predictions run there while the estimator keeps ``device="cuda"`` (its parameters do
    not change, and a model saved there loads on any machine as before). It is left set: a
    worker's later predictions with the model it fitted find it on the same GPU.

    Parameters
    ----------
    device : str or torch.device
        The estimator's device.

    Returns
    -------
    index : int or None
        The GPU taken, or None where nothing changes (see :func:`worker_cuda_index`).
    """
    index = worker_cuda_index(device)
    if index is not None and torch.cuda.current_device() != index:
        torch.cuda.set_device(index)
    return index
