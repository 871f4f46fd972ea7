"""The training loop of the CRNN estimators' base, on skorch's extension points: the
validation split, the callbacks of the training options, augmentation in the training
loader's collate step, batches gathered one batch at a time, the epoch loop that records
the batch losses with one device sync per epoch, the precision's train-step strategy, the
check of the loss, the callbacks that need validation data and the record of an
interrupted fit (a mixin of ``SpectrogramNet``)."""

import math
import os
import sys
import warnings

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping, EpochScoring, LRScheduler, ProgressBar
from skorch.dataset import ValidSplit, get_len
from torch.optim.lr_scheduler import ReduceLROnPlateau
from torch.utils.data import default_convert

from ._augment import AugmentedCollate, BatchAugment
from ._batches import array_batches
from ._training import OWNED_CALLBACK_ARGS, check_validation_split, draw_seed, training_callbacks


def _read_losses(losses):
    """The values of the scalar tensors ``losses`` as floats, read off their device at once
    (one synchronisation) when they share a dtype, device and shape."""
    if len({(v.dtype, v.device, v.shape) for v in losses}) == 1:
        return torch.stack(losses).tolist()
    return [v.item() for v in losses]


def _reads_batch_losses(callback):
    """Whether ``callback`` may read the batch losses of the history during the epoch (in
    ``on_batch_end``): all but skorch's no-op, ``EpochScoring`` (caches predictions) and
    ``LRScheduler`` (steps; reads the history only for ``ReduceLROnPlateau`` every batch)."""
    on_batch_end = type(callback).on_batch_end
    if on_batch_end in (Callback.on_batch_end, EpochScoring.on_batch_end):
        return False
    if on_batch_end is LRScheduler.on_batch_end:
        policy = getattr(callback, "policy", None)
        return callback.step_every == "batch" and (
            policy in (ReduceLROnPlateau, "ReduceLROnPlateau")
            or isinstance(getattr(callback, "lr_scheduler_", None), ReduceLROnPlateau))
    return True


class TrainingLoop:
    """skorch's fit loop as the CRNN estimators train: the per-fit state (``_augment``,
    ``_scaled_step``, ``_fit_device``) is set by ``SpectrogramNet._train`` and dropped after
    the call; ``_on_cuda``, ``_to_device`` and ``_has_validation`` are the base's."""

    # -- augmentation -------------------------------------------------------------------------
    def _batch_augment(self):
        """The training batches' augmentation of the parameters (None when all are off),
        seeded from torch's (forked, seeded) RNG."""
        augment = BatchAugment(
            freq_mask=self.freq_mask, n_freq_masks=self.n_freq_masks, time_mask=self.time_mask,
            n_time_masks=self.n_time_masks, time_shift=self.time_shift, mixup=self.mixup,
            target_time_axis=self._target_time_axis, rng=None)
        if not augment.active:
            return None
        augment.rng = np.random.default_rng(draw_seed())
        return augment

    def get_params_for(self, prefix):
        """skorch's parameters of ``prefix``; during fit, the training loader's
        ``collate_fn`` augments the batches (after the user's ``iterator_train__collate_fn``,
        if any)."""
        params = super().get_params_for(prefix)
        augment = getattr(self, "_augment", None)
        if prefix == "iterator_train" and augment is not None:
            params["collate_fn"] = AugmentedCollate(augment, params.get("collate_fn"))
        return params

    def get_iterator(self, dataset, training=False):
        """skorch's data loader, or for in-memory arrays (numpy, or tensors on the device)
        one that gathers each batch at once instead of clip by clip (the same batches, see
        ``_batches``); the augmentation of the training batches stays in its collate step.
        Loader arguments it does not reproduce (``num_workers``, ``sampler``, a
        ``collate_fn`` of the user's, ...) or another iterator class keep skorch's."""
        kwargs = self.get_params_for("iterator_train" if training else "iterator_valid")
        iterator = self.iterator_train if training else self.iterator_valid
        collate = kwargs.pop("collate_fn", None)
        if isinstance(collate, AugmentedCollate) and collate.collate_fn is None:
            # the batches come stacked: only numpy arrays to convert
            collate = AugmentedCollate(collate.augment, default_convert, collate.prepare)
        if iterator is torch.utils.data.DataLoader and (
                collate is None or getattr(collate, "collate_fn", None) is default_convert):
            size = kwargs.get("batch_size", self.batch_size)
            kwargs["batch_size"] = len(dataset) if size == -1 else size
            loader = array_batches(dataset, kwargs, collate) if len(dataset) else None
            if loader is not None:
                return loader
        return super().get_iterator(dataset, training=training)

    # -- the validation split -----------------------------------------------------------------
    def get_split_datasets(self, X, y=None, **fit_params):
        """Split off ``validation_fraction`` of the fit data with skorch's ``ValidSplit``
        (stratified for class labels, seeded from torch's RNG), or defer to ``train_split``.
        On CUDA the data moves to the device once."""
        self.__dict__.pop("validation_indices_", None)
        if not self.validation_fraction:
            if self.train_split or not self._on_cuda():
                return super().get_split_datasets(X, y, **fit_params)
            return self.get_dataset(self._to_device(X), self._to_device(y)), None
        y_np = np.asarray(y)
        stratify = y_np.ndim == 1 and y_np.dtype.kind in "iu"  # encoded class labels
        check_validation_split(y_np, self.validation_fraction, stratify=stratify)
        split = ValidSplit(self.validation_fraction, stratified=stratify,
                           random_state=draw_seed())
        train, valid = split(self.get_dataset(self._to_device(X), self._to_device(y_np)), y_np)
        self.validation_indices_ = np.sort(np.asarray(valid.indices))
        return train, valid

    # -- callbacks ----------------------------------------------------------------------------
    def initialize_callbacks(self):
        """skorch's callbacks, with those of ``lr_schedule`` (before the log),
        ``progress_bar`` and ``early_stopping`` (last) built from the parameters;
        ``callbacks__<name>__<arg>`` parameters apply to them, except those an estimator
        parameter sets (an error names it)."""
        super().initialize_callbacks()
        if self.callbacks == "disable":
            return self
        schedulers, stoppers = training_callbacks(
            lr_schedule=self.lr_schedule, lr=self.lr, max_epochs=self.max_epochs,
            patience=self.patience, early_stopping=self.early_stopping, monitor=self.monitor,
            lower_is_better=self._monitors[self.monitor] if self.early_stopping else True,
            validation=self._has_validation())
        progress = [("progress_bar", ProgressBar())] if self.progress_bar is True else []
        taken = {name for name, _ in self.callbacks_}
        for name, callback in schedulers + progress + stoppers:
            if name in taken:
                raise ValueError(f"callbacks holds a callback named {name!r}, which "
                                 f"{type(self).__name__} builds from its parameters; rename "
                                 "yours or turn the parameter off.")
            params = self.get_params_for("callbacks__" + name)
            owned = {k: v for k, v in OWNED_CALLBACK_ARGS.get(name, {}).items() if k in params}
            if owned:
                arg, param = next(iter(owned.items()))
                raise ValueError(f"callbacks__{name}__{arg} is set by the estimator's {param} "
                                 f"parameter; set {param} instead.")
            callback.set_params(**params)
            callback.initialize()
        at = next((i for i, (n, _) in enumerate(self.callbacks_) if n == "print_log"),
                  len(self.callbacks_))
        self.callbacks_[at:at] = schedulers
        self.callbacks_ += progress + stoppers
        return self

    # -- the training step --------------------------------------------------------------------
    def train_step(self, batch, **fit_params):
        """skorch's training step, or the precision's strategy (gradient-scaled for
        precision='16-mixed'). The loss is checked in :meth:`run_single_epoch`."""
        scaled = getattr(self, "_scaled_step", None)
        if scaled is None:
            return super().train_step(batch, **fit_params)
        optimizers = [getattr(self, name + "_") for name in self._optimizers]
        return scaled(self, optimizers, batch, **fit_params)

    def _set_training(self, training=True):
        """skorch's switch of the modules' train/eval mode, which it asks for every batch,
        skipped for a module already in that mode throughout (none of whose submodules
        overrides ``train``)."""
        for name in self._modules + self._criteria:
            module = getattr(self, name + "_")
            if isinstance(module, torch.nn.Module) and any(
                    m.training != training or type(m).train is not torch.nn.Module.train
                    for m in module.modules()):
                module.train(training)

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """skorch's loop over the batches of one epoch, recording each batch's loss and size
        in the history and notifying the callbacks as skorch does, but reading the losses
        off the device once, after the last batch, instead of once per batch (each read waits
        for the GPU to finish the batch), unless a callback reads them during the epoch.

        The training loss of every batch is checked: when it is not finite the weights are not
        usable, so the net records why in ``training_failed_``, refuses to predict and stops
        with a ``FloatingPointError`` naming the first such batch.
        """
        if iterator is None:
            return
        deferred = type(self).on_batch_end is NeuralNet.on_batch_end and not any(
            _reads_batch_losses(cb) for _, cb in self.callbacks_)
        key, entries, losses, count = prefix + "_loss", [], [], 0
        try:
            for batch in iterator:
                self.notify("on_batch_begin", batch=batch, training=training)
                step = step_fn(batch, **fit_params)
                count += 1
                entry = self.history[-1]["batches"][-1]
                if deferred:  # a placeholder keeps skorch's order of the keys
                    entry[key] = None
                    losses.append(step["loss"].detach())
                    entries.append(entry)
                else:
                    entry[key] = step["loss"].item()
                    if training:
                        self._check_losses([entry[key]], first_batch=count)
                size = get_len(batch[0]) if isinstance(batch, (tuple, list)) else get_len(batch)
                self.history.record_batch(prefix + "_batch_size", size)
                self.notify("on_batch_end", batch=batch, training=training, **step)
        finally:  # an interrupted epoch keeps the losses of its batches too
            values = _read_losses(losses)
            for entry, value in zip(entries, values):
                entry[key] = value
        if training and values:
            self._check_losses(values, first_batch=1)
        self.history.record(prefix + "_batch_count", count)

    def _check_losses(self, losses, first_batch):
        """Stop with a clear error at the first loss of ``losses`` (training batches
        ``first_batch``, ``first_batch + 1``, ... of this epoch) that is not finite."""
        bad = next((i for i, loss in enumerate(losses) if not math.isfinite(loss)), None)
        if bad is None:
            return
        loss, epoch, n_batch = losses[bad], len(self.history), first_batch + bad
        self.training_failed_ = f"its training loss became {loss} at epoch {epoch}"
        raise FloatingPointError(
            f"Training loss became {loss} at epoch {epoch}, batch {n_batch}; lower lr "
            f"(currently {self.lr}) or check the input scaling (for example standardise "
            "the spectrograms) and the targets.")

    def fit_loop(self, X, y=None, epochs=None, **kwargs):
        """skorch's fit loop, recording a KeyboardInterrupt (not one of skorch's
        ``EarlyStopping``) in ``interrupted_epoch_``: the number of epochs completed."""
        start = self._epochs_done = len(self.history)
        try:
            return super().fit_loop(X, y, epochs, **kwargs)
        except KeyboardInterrupt:
            if not self._stopped_early():
                self.interrupted_epoch_ = self._epochs_done
                self._interrupted = (start, self._epochs_done)
            raise

    def on_epoch_end(self, net, **kwargs):
        """Warn once per fit when the training loss climbs by orders of magnitude (100 times
        its lowest epoch so far) while staying finite: training is diverging."""
        self._epochs_done = len(self.history)  # training and validation of the epoch are done
        super().on_epoch_end(net, **kwargs)
        # the epoch's train_loss is logged after this: average its training batches'
        batch_losses = [b["train_loss"] for b in self.history[-1]["batches"] if "train_loss" in b]
        if not batch_losses:
            return
        self._epoch_losses = [*getattr(self, "_epoch_losses", []), float(np.mean(batch_losses))]
        losses = self._epoch_losses
        if len(losses) >= 2 and losses[-1] > 100 * min(losses) > 0 and not getattr(
                self, "_loss_warned", False):
            self._loss_warned = True
            warnings.warn(
                f"{type(self).__name__}: the training loss climbed from {min(losses):.4g} to "
                f"{losses[-1]:.4g} by epoch {len(self.history)}; training is diverging. Lower "
                f"lr (currently {self.lr}) or check the input scaling and the targets.",
                RuntimeWarning, stacklevel=2)

    # -- callbacks that need validation data ------------------------------------------------
    def _check_validation_callbacks(self):
        """Refuse callbacks that watch a validation score when the net has no validation data
        (skorch would fail after the first epoch with ``KeyError: 'valid_loss'``)."""
        if self._has_validation() or self.callbacks == "disable":
            return
        for cb_name, callback in getattr(self, "callbacks_", []):
            monitor = getattr(callback, "monitor", None)
            if not (isinstance(monitor, str) and monitor.startswith("valid_")):
                continue
            kind = type(callback).__name__
            fix = ("use the estimator's early_stopping=True with validation_fraction (for example "
                   "validation_fraction=0.1) instead of skorch's EarlyStopping, or set "
                   "validation_fraction" if isinstance(callback, EarlyStopping)
                   else "set validation_fraction (for example validation_fraction=0.1) or "
                   "train_split")
            named = f"{cb_name!r}, " if cb_name != kind else ""
            raise ValueError(
                f"callbacks holds {kind} ({named}monitor={monitor!r}), which watches a "
                f"validation score, but {type(self).__name__} has no validation data "
                f"(validation_fraction={self.validation_fraction!r}, train_split=None): {fix}.")

    # -- interrupted training ---------------------------------------------------------------
    def _stopped_early(self):
        """Whether the ``KeyboardInterrupt`` ending the fit loop came from a skorch
        ``EarlyStopping`` callback (which stops training that way on purpose)."""
        return any(isinstance(cb, EarlyStopping) and getattr(cb, "misses_", 0) >= cb.patience
                   for _, cb in getattr(self, "callbacks_", []))


    def _warn_interrupted(self, method, start, done):
        """Warn that ``<method>`` stopped on a KeyboardInterrupt after ``done`` completed
        epochs of its history (``start`` of them before this call)."""
        of_call = done - start
        where = "" if start == 0 else f" of this call (epoch {done} of its history)"
        warnings.warn(
            f"{type(self).__name__}.{method} was interrupted (KeyboardInterrupt, for example "
            f"Ctrl-C) after {of_call} of max_epochs={self.max_epochs} epochs{where}: the network "
            f"is only partly trained. interrupted_epoch_={done} records this until the next fit; "
            "fit again to train it fully.", RuntimeWarning, stacklevel=_caller_level())


def _caller_level():
    """The ``stacklevel`` (for a warning of the function calling this) of the first frame
    outside sk_crnn."""
    package = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level
