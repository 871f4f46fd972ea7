"""Batches of in-memory arrays gathered one batch at a time.

skorch's default iterator is a ``DataLoader`` that fetches a batch clip by clip (one
``Dataset.__getitem__`` per clip) and stacks the clips in ``default_collate``: per clip a
few microseconds of Python, which on a small network is a tenth of an epoch, and on a GPU
most of what a training step costs beyond the kernels. When the data are arrays in memory
(numpy arrays, or tensors already on the device), :func:`array_batches` draws the same
batches with one gather per array and batch (``X[indices]``), on the arrays' device.

The batches are those of the ``DataLoader`` it replaces, value for value and in the same
order: the shuffled order comes from torch's ``RandomSampler`` drawn from the global RNG
at the same point of the epoch, and the loader draws its per-epoch worker seed as before,
so a seeded fit trains on the same batches and leaves the RNG in the same state.
"""

import numpy as np
import torch
from skorch.dataset import Dataset
from torch.utils.data import DataLoader, RandomSampler, Sampler, default_convert

from ._training import unwrap_subsets

__all__ = ["array_batches"]

#: The ``DataLoader`` arguments the gathered batches reproduce; any other (``num_workers``,
#: ``sampler``, ``pin_memory``, ...) keeps skorch's loader.
_SUPPORTED = {"batch_size", "shuffle", "drop_last"}


def _arrays(data):
    """The arrays of ``data`` (an array, a tensor or a dict of them), or None."""
    if isinstance(data, dict):
        values = list(data.values())
        return values if values and all(isinstance(v, (np.ndarray, torch.Tensor))
                                        for v in values) else None
    return [data] if isinstance(data, (np.ndarray, torch.Tensor)) else None


def _index_device(arrays):
    """The device of the indices that gather rows of ``arrays``: a CUDA device when they are
    all tensors on it, ``"cpu"`` when they are all numpy arrays or CPU tensors (numpy
    indices), None when they mix devices."""
    devices = {a.device if isinstance(a, torch.Tensor) else torch.device("cpu")
               for a in arrays}
    if len(devices) != 1:
        return None
    return devices.pop()


class _Rows(torch.utils.data.Dataset):
    """The rows of a skorch ``Dataset``'s arrays at a batch of indices: ``(X[i], y[i])``,
    ``X`` a dict of arrays keeping its keys; a placeholder ``y`` of zeros of shape
    ``(len(i), 1)`` when ``y`` is None, as skorch's ``Dataset`` collates to."""

    def __init__(self, X, y, n):
        self.X, self.y, self.n = X, y, n

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        X = ({k: v[index] for k, v in self.X.items()} if isinstance(self.X, dict)
             else self.X[index])
        if self.y is None:
            n = len(range(self.n)[index]) if isinstance(index, slice) else len(index)
            return X, torch.zeros((n, 1))
        return X, self.y[index]


class _BatchIndices(Sampler):
    """The index batches of one epoch: the clips of ``positions`` (indices into the arrays)
    in order, or shuffled by torch's ``RandomSampler``, cut into ``batch_size`` batches
    (the last one smaller unless ``drop_last``). The epoch's order moves to ``device`` once;
    each batch is a slice of it. Unshuffled batches of all clips are plain slices."""

    def __init__(self, positions, n_rows, batch_size, shuffle, drop_last, device):
        self.positions, self.n_rows = positions, n_rows
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.device = device

    def __len__(self):
        n = len(self.positions)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        n, size = len(self.positions), self.batch_size
        stop = n - n % size if self.drop_last else n
        if not self.shuffle and np.array_equal(self.positions, np.arange(self.n_rows)):
            for start in range(0, stop, size):
                yield slice(start, min(start + size, n))
            return
        order = self.positions
        if self.shuffle:  # the RNG draws of the DataLoader's RandomSampler, at the same point
            order = order[np.fromiter(RandomSampler(range(n)), dtype=np.int64, count=n)]
        if self.device.type != "cpu":
            order = torch.as_tensor(order).to(self.device)  # one copy per epoch
        for start in range(0, stop, size):
            yield order[start:start + size]


def array_batches(dataset, kwargs, collate=None):
    """A loader of ``dataset`` (a skorch ``Dataset`` of arrays, or ``Subset`` s of one)
    whose batches are gathered one batch at a time, or None where skorch's ``DataLoader``
    must stay (other datasets, arrays on several devices, loader arguments it does not
    reproduce).

    Parameters
    ----------
    dataset : torch Dataset
        The dataset skorch's loader would iterate over.
    kwargs : dict
        The ``DataLoader`` arguments but ``collate_fn`` (``batch_size`` an int >= 1).
    collate : callable or None, default=None
        The collate step of each gathered ``(X, y)`` batch (the training augmentation, an
        ``AugmentedCollate`` stacking with ``default_convert``); None: torch's
        ``default_convert`` (numpy arrays to tensors).

    Returns
    -------
    loader : torch.utils.data.DataLoader or None
        Yields ``(X, y)`` batches of tensors, ``X`` a dict where the dataset's is; its length
        is the number of batches.
    """
    if set(kwargs) - _SUPPORTED:
        return None
    base, indices = unwrap_subsets(dataset)
    if type(base) is not Dataset or base.X_is_ndframe:
        return None
    arrays = _arrays(base.X)
    targets = [] if base.y is None else _arrays(base.y)
    if arrays is None or targets is None or isinstance(base.y, dict):
        return None
    n_rows = len(base)
    if any(len(a) != n_rows for a in arrays + targets):
        return None
    device = _index_device(arrays + targets)
    if device is None:
        return None
    positions = np.arange(n_rows) if indices is None else np.asarray(indices, dtype=np.int64)
    sampler = _BatchIndices(positions, n_rows, kwargs["batch_size"],
                            bool(kwargs.get("shuffle", False)),
                            bool(kwargs.get("drop_last", False)), device)
    return DataLoader(_Rows(base.X, base.y, n_rows), batch_size=None, sampler=sampler,
                      collate_fn=default_convert if collate is None else collate)
