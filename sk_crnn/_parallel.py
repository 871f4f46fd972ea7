"""Keep torch's intra-op threads within a parallel worker's share of the cores."""

import contextlib
import sys
import threading

import torch

__all__ = ["worker_thread_limit"]


#: torch's thread count in this process before any limit, recorded by the first limited fit
#: (concurrent fits in one worker must not divide a count another fit already lowered).
_base_threads = None
_base_lock = threading.Lock()


def _dask_worker_nthreads():
    """Thread count of the dask.distributed worker running this code, or None elsewhere."""
    if sys.modules.get("distributed") is None:  # never import distributed just to check
        return None
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):  # get_worker raises ValueError outside a worker task
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
