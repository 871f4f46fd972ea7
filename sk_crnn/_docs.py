"""Docstring sections shared by the CRNN estimators (numpydoc)."""

#: The ``batch_size`` entry of :data:`COMMON_PARAMS_DOC`, for an estimator with another
#: default to replace.
BATCH_SIZE_DOC = """    batch_size : int, default=32
        Clips per mini-batch (training batches are shuffled).
"""

COMMON_PARAMS_DOC = """
    optimizer : torch.optim.Optimizer class, default=torch.optim.Adam
        Optimizer; its arguments are set with ``optimizer__<name>``.
    lr : float, default=1e-3
        Learning rate.
    max_epochs : int, default=20
        Number of passes over the training data.
""" + BATCH_SIZE_DOC + """\
    train_split : callable or None, default=None
        skorch's internal validation split (e.g. ``skorch.dataset.ValidSplit(5)``); None
        trains on all data.
    verbose : int, default=0
        0 prints nothing; 1 prints skorch's table of losses per epoch.
    progress_bar : bool, default=False
        Show a per-batch progress bar (skorch's ``ProgressBar``) during fit.
    random_state : None, int or numpy.random.RandomState, default=None
        Seeds weight initialisation, dropout and shuffling, so an int gives reproducible fits;
        torch's global RNG state is restored afterwards. None uses torch's global RNG.
    device : str or torch.device, default="cpu"
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``. A net fitted on a GPU loads (``pickle`` or
        ``joblib``) and predicts on a machine without one, with its device set to ``"cpu"``.
        On CUDA the training (and validation) data is moved to the device once per fit.
        With ``"cuda"`` and several visible GPUs, each parallel worker (loky or Dask, for
        example of ``GridSearchCV(n_jobs=k)``) fits on its own GPU, round-robin by worker
        number; ``"cuda:N"`` always uses GPU N.
    validation_fraction : float in (0, 1) or None, default=None
        Share of the data given to ``fit`` held out to compute ``valid_loss`` (and, for the
        classifier, ``valid_acc``) after each epoch; stratified by class for 1-D class labels
        and drawn from ``random_state``. In cross-validation it comes from each training fold.
        None or 0 trains on all data. Set it or ``train_split``, not both.
    early_stopping : bool, default=False
        Stop when ``monitor`` has not improved for ``patience`` epochs and restore the weights
        of the best epoch. Needs validation data: set ``validation_fraction``.
    patience : int, default=5
        Epochs without improvement before early stopping (``lr_schedule="plateau"`` lowers
        the learning rate after ``max(patience // 2, 1)`` such epochs).
    monitor : {"valid_loss", "valid_acc"}, default="valid_loss"
        Metric watched by early stopping; ``"valid_acc"`` (higher is better) only for the
        classifier.
    freq_mask : int, default=0
        SpecAugment frequency masking of training batches: largest width in mel bands of each
        mask (drawn from 0 to ``freq_mask``); masked values are replaced by the clip's mean.
        0 turns it off.
    time_mask : int, default=0
        SpecAugment time masking of training batches: largest width in frames; 0 is off.
    n_freq_masks : int, default=2
        Number of frequency masks per clip when ``freq_mask > 0``.
    n_time_masks : int, default=2
        Number of time masks per clip when ``time_mask > 0``.
    time_shift : int, default=0
        Roll each training clip circularly along time by up to this many frames either way;
        0 is off.
    mixup : float, default=0.0
        Mixup of training batches: each clip is mixed with another clip of the batch with a
        weight drawn from Beta(mixup, mixup), and so are the targets (for class labels the
        loss is the same mix of both labels' losses). 0 is off; 0.2 to 0.4 are usual.
        Augmentations apply to training batches only, never to prediction, ``transform`` or
        validation, and are reproducible under ``random_state``.
    lr_schedule : {None, "cosine", "onecycle", "plateau"}, default=None
        Learning-rate schedule over each call to ``fit``: cosine annealing from ``lr`` to 0
        over ``max_epochs``, a one-cycle schedule peaking at ``lr`` (stepped every batch),
        or dividing the learning rate by 10 when ``valid_loss`` (``train_loss`` without
        validation) stops improving. The learning rate is recorded in ``history`` as
        ``event_lr``. None keeps ``lr`` constant.
    weight_decay : float, default=0.0
        Passed as the optimizer's ``weight_decay``. With the default Adam this is an L2
        penalty added to the gradients (Adam's semantics); for decoupled weight decay pass
        ``optimizer=torch.optim.AdamW``.
    precision : {"32", "bf16", "16-mixed"}, default="32"
        Numeric precision of the forward pass. ``"bf16"`` runs it under bfloat16 autocast (on
        CUDA, or on CPUs with bfloat16 support; elsewhere it is slower); ``"16-mixed"`` uses
        float16 autocast with gradient scaling and needs ``device="cuda"``. Outputs are
        float32; on a GPU the recurrent layer runs in float32 under either.
    compile : bool, default=False
        Compile the module with ``torch.compile`` (skorch's option; arguments go in
        ``compile__<name>``). Faster epochs on a GPU after a compilation time of seconds to
        minutes; needs a C compiler.
    **kwargs : dict
        Any other skorch ``NeuralNet`` parameter (``callbacks``, ``iterator_train__*``,
        ``warm_start``, ...) or ``module__*``, ``optimizer__*``, ``criterion__*`` parameter.
"""

COMMON_ATTRS_DOC = """
    n_mels_in_ : int
        Number of mel bands (or MFCC coefficients, under ``n_mfcc``) of the spectrograms
        seen in fit.
    n_frames_in_ : int
        Number of frames of the spectrograms seen in fit.
    module_ : torch.nn.Module
        The trained network.
    history_ : skorch.History
        Losses and timings per epoch and batch.
    validation_indices_ : ndarray of int
        Positions in the data given to the last ``fit`` of the clips held out for validation;
        set only with ``validation_fraction``.
    training_failed_ : str
        Set only when the training loss became NaN or infinite (``fit`` then raised
        ``FloatingPointError``): why the net refuses to predict until it is fitted again.
    interrupted_epoch_ : int
        Set only when a KeyboardInterrupt (Ctrl-C) ended the last ``fit`` or
        ``partial_fit`` early (which then warned): the number of epochs completed. The
        network is only partly trained; the next fit or partial_fit removes it.
"""


def module_doc(default):
    """The ``module`` entry of the Parameters section, for the estimator's default module."""
    return MODULE_DOC.replace("default=CRNN", f"default={default}")


MODULE_DOC = """
    module : torch.nn.Module class or instance, default=CRNN
        The network. For a class, ``n_mels``, ``n_frames`` and ``n_outputs`` are inferred
        from ``X`` and ``y`` at fit and passed to it (where it accepts them); set other
        arguments with ``module__<name>`` (e.g. ``module__rnn_type="lstm"``), which also
        override the inferred sizes.
"""


#: Docstring entries shared by many methods: a line holding only ``{name}`` in a docstring
#: decorated with :func:`shared_docs` becomes the entry, indented like the line.
ENTRIES = {
    "X_fitted": """Parameters
----------
X : array-like of shape (n_clips, n_mels, n_frames) or (n_clips, 1, n_mels, n_frames)
    Spectrograms of the fitted shape.

Returns
-------""",
    "X_fitted_params": """Parameters
----------
X : array-like of shape (n_clips, n_mels, n_frames) or (n_clips, 1, n_mels, n_frames)
    Spectrograms of the fitted shape.""",
    "X_tensor": """Parameters
----------
X : torch.Tensor of shape (batch, n_mels, n_frames) or (batch, 1, n_mels, n_frames)
    Spectrograms.

Returns
-------""",
}


def shared_docs(func):
    """Expand the ``{name}`` lines of ``func``'s docstring into :data:`ENTRIES`."""
    lines = []
    for line in func.__doc__.split("\n"):
        key = line.strip()[1:-1] if line.strip().startswith("{") else None
        if key in ENTRIES:
            indent = line[: len(line) - len(line.lstrip())]
            lines += [indent + entry if entry else "" for entry in ENTRIES[key].split("\n")]
        else:
            lines.append(line)
    func.__doc__ = "\n".join(lines)
    return func
