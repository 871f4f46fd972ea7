"""skorch hooks shared by every sk_crnn net: the classifier, the regressor and the detector."""

import contextlib
import math

import numpy as np
import torch
from skorch.callbacks import ProgressBar
from skorch.dataset import get_len
from skorch.exceptions import NotInitializedError
from skorch.utils import is_dataset

from ._inputs import check_spectrograms
from ._validation import check_device, seed_from_random_state


class SpectrogramNetMixin:
    """Input checks, seeding, shuffled batches and a non-finite-loss guard for skorch nets
    that take spectrograms ``(n_clips, n_mels, n_frames)``.

    Expects ``random_state``, ``progress_bar`` and ``device`` parameters, and the fitted
    attributes ``n_mels_in_`` / ``n_frames_in_`` once fitted.
    """

    def _get_param_names(self):
        # skorch lists every attribute not ending in "_", including its private
        # ``_params_to_validate``; private names are not parameters.
        return [name for name in super()._get_param_names() if not name.startswith("_")]

    # -- input checks -------------------------------------------------------------------------
    def _check_X(self, X):
        return check_spectrograms(X, type(self).__name__)

    def _check_shape(self, X):
        fitted = getattr(self, "n_mels_in_", None), getattr(self, "n_frames_in_", None)
        if fitted[0] is not None and tuple(X.shape[-2:]) != fitted:
            raise ValueError(
                f"X has spectrograms of shape (n_mels, n_frames)={tuple(X.shape[-2:])}, but "
                f"{type(self).__name__} was fitted on shape {fitted}; use the same "
                "MelSpectrogramTransformer settings (n_mels, hop_length, clip length) for fit "
                "and predict."
            )

    def _check_predict_X(self, X):
        if is_dataset(X):  # skorch internals (scoring on a validation split) pass Datasets
            return X
        self.check_is_fitted()
        X = self._check_X(X)
        self._check_shape(X)
        return X

    def _check_net_params(self):
        """Check ``device``, ``random_state`` and ``progress_bar`` (called in fit)."""
        if self.device is not None:
            check_device(self.device)
        seed_from_random_state(self.random_state)  # raises for invalid values
        if not isinstance(self.progress_bar, (bool, np.bool_)):
            raise ValueError(f"progress_bar must be True or False; got {self.progress_bar!r}.")

    def check_data(self, X, y):
        """No-op: ``fit`` and ``partial_fit`` check the data before skorch sees it."""

    # -- seeding ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _seeded(self):
        """Seed torch from ``random_state`` without changing the caller's RNG state."""
        seed = seed_from_random_state(self.random_state)
        if seed is None:
            yield
            return
        device = torch.device(self.device) if self.device is not None else torch.device("cpu")
        cuda = (
            [device.index if device.index is not None else torch.cuda.current_device()]
            if device.type == "cuda"
            else []
        )
        with torch.random.fork_rng(devices=cuda):
            torch.random.default_generator.manual_seed(seed)
            if cuda:
                with torch.cuda.device(cuda[0]):
                    torch.cuda.manual_seed(seed)
            yield

    # -- training -----------------------------------------------------------------------------
    def get_iterator(self, dataset, training=False):
        """skorch's DataLoader, shuffling training batches unless ``iterator_train__shuffle``
        is set."""
        if training and "iterator_train__shuffle" not in vars(self):
            loader_kwargs = self.get_params_for("iterator_train")
            loader_kwargs.setdefault("batch_size", self.batch_size)
            if loader_kwargs["batch_size"] == -1:
                loader_kwargs["batch_size"] = get_len(dataset)
            return self.iterator_train(dataset, shuffle=True, **loader_kwargs)
        return super().get_iterator(dataset, training=training)

    def _check_finite_loss(self, step):
        """Stop training with a clear error when the loss of a step is not finite.

        The weights are not usable after that step, so the net also records the failure in
        ``training_failed_`` and refuses to predict until it is fitted again."""
        loss = step["loss"].item()
        if not math.isfinite(loss):
            epoch = len(self.history)
            n_batch = len(self.history[-1]["batches"]) if epoch else 0
            self.training_failed_ = f"its training loss became {loss} at epoch {epoch}"
            raise FloatingPointError(
                f"Training loss became {loss} at epoch {epoch}, batch {n_batch}; lower lr "
                f"(currently {self.lr}) or check the input scaling (for example standardise "
                "the spectrograms) and the targets."
            )
        return step

    def initialize(self):
        """skorch's ``initialize``, forgetting a failed training (fresh weights)."""
        self.__dict__.pop("training_failed_", None)
        return super().initialize()

    def check_is_fitted(self, attributes=None, *args, **kwargs):
        """skorch's check, and a clear error after a training whose loss became NaN/inf."""
        failed = getattr(self, "training_failed_", None)
        if failed:
            raise NotInitializedError(
                f"This {type(self).__name__} cannot predict: {failed}, so its weights are not "
                "usable. Fit it again with a lower lr or scaled inputs."
            )
        return super().check_is_fitted(attributes, *args, **kwargs)

    def _progress_callbacks(self):
        progress_bar = getattr(self, "progress_bar", False)
        if isinstance(progress_bar, (bool, np.bool_)) and progress_bar:
            return [("progress_bar", ProgressBar())]
        return []

    # -- prediction ---------------------------------------------------------------------------
    def forward_iter(self, X, training=False, device="cpu"):
        """Check ``X`` against the fitted shape, then yield skorch's batched outputs."""
        X = self._check_predict_X(X)
        return super().forward_iter(X, training=training, device=device)
