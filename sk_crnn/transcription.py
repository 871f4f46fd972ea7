"""Speech recognition: a CRNN trained with the CTC loss turns spectrograms into transcripts."""

import functools

import numpy as np
import torch
from sklearn.utils import check_consistent_length
from skorch.callbacks import GradientNormClipping

from . import ctc
from ._augment import AugmentedCollate
from ._base import SpectrogramNet
from ._docs import COMMON_ATTRS_DOC, COMMON_PARAMS_DOC, module_doc, shared_docs
from ._inference import CTCOutputs, output_steps
from ._training import unwrap_subsets
from ._validation import BOOL, Options, Rule
from .io._manifests import read_manifest
from .modules import SequenceCRNN

__all__ = ["CRNNTranscriber", "read_manifest"]

_NO_MIXUP = ("Mixing two clips gives the audio of two transcripts at once, which no single "
             "transcript describes; CRNNTranscriber supports freq_mask and time_mask.")
_NO_SHIFT = ("A circular time shift moves the end of an utterance before its start, so the "
             "transcript no longer matches; CRNNTranscriber supports freq_mask and time_mask.")
#: Logits of a step after a clip's end: the blank, certainly.


def _check_vocabulary(value, name):
    if value is None:
        return
    if isinstance(value, str) or not all(isinstance(t, str) and t and not t.isspace()
                                         or t == " " for t in value):
        raise ValueError(f"{name} must be None or a list of non-empty str tokens (words, or "
                         f"characters and ' '); got {value!r}.")
    if len(set(value)) != len(list(value)):
        raise ValueError(f"{name} must not hold duplicates; got {value!r}.")


def _as_transcripts(y):
    transcripts = []
    for i, text in enumerate(y):
        if not isinstance(text, str):
            raise TypeError(
                f"y[{i}] is {text!r} of type {type(text).__name__}, but transcripts must be "
                "str; a missing transcript (NaN/None from a table) needs fixing in the data, "
                "and a clip without speech takes the empty transcript ''.")
        transcripts.append(ctc.normalize_transcript(text))
    return transcripts


def _trim_batch(Xi, yi, *, min_frames):
    """A batch with the frames after its longest clip cut off and each clip's padding set to
    its mean (the true lengths are column 0 of the encoded targets ``yi``)."""
    Xi = Xi[..., : max(int(yi[:, 0].max()), min_frames)]
    return ctc.fill_padding(Xi, yi[:, 0].to(Xi.device)), yi


class _LengthGroupedBatches(torch.utils.data.Sampler):
    """Training batches of clips of similar lengths, in random order.

    The clips are shuffled and cut into pools of ``pool`` batches; each pool is sorted by
    length and cut into batches, and the batches of all pools are shuffled (the grouping of
    Hugging Face's ``group_by_length``). A batch is cut after its longest clip, so grouping
    trains on fewer padding frames. torch's generator draws the order, so ``random_state``
    makes it reproducible.

    Parameters
    ----------
    lengths : ndarray of shape (n_clips,)
        True frames of each clip.
    batch_size : int
    pool : int, default=50
        Batches per sorted pool.
    """

    def __init__(self, lengths, batch_size, pool=50):
        self.lengths, self.batch_size, self.pool = np.asarray(lengths), batch_size, pool

    def __len__(self):
        return -(-len(self.lengths) // self.batch_size)

    def __iter__(self):
        order = torch.randperm(len(self.lengths)).numpy()
        size, batches = self.batch_size, []
        for start in range(0, len(order), size * self.pool):
            chunk = order[start:start + size * self.pool]
            chunk = chunk[np.argsort(-self.lengths[chunk], kind="stable")]
            batches += [chunk[i:i + size] for i in range(0, len(chunk), size)]
        for i in torch.randperm(len(batches)).tolist():
            yield batches[i].tolist()


def _encoded_lengths(dataset):
    """Column 0 (true frames) of the encoded targets of a skorch dataset or a Subset of one,
    or None."""
    dataset, indices = unwrap_subsets(dataset)
    y = getattr(dataset, "y", None)
    if y is None:
        return None
    lengths = np.asarray(y[:, 0].cpu() if hasattr(y, "cpu") else y[:, 0])
    return lengths if indices is None else lengths[indices]


class CRNNTranscriber(SpectrogramNet):
    __doc__ = f"""Speech recognition with a convolutional recurrent network and the CTC loss.

    ``fit`` takes spectrograms (for example from ``MelSpectrogramTransformer``, so that a
    Pipeline fits on raw waveforms of any lengths) and their transcripts (str), with no
    alignment: the network (:class:`~sk_crnn.modules.SequenceCRNN`: conv blocks that halve
    the frame rate, a 2-layer bidirectional GRU, a linear layer per step) gives token
    posteriors per output step and is trained with ``torch.nn.CTCLoss``, as in DeepSpeech 2.
    ``predict`` decodes the most probable token of each step (repeats merged, blanks
    dropped); ``score`` is ``1 - WER``.

    Clips shorter than the fitted length are zero-padded by the transformer; their true
    length is the frames before the run of identical trailing frames that zero padding
    gives (:func:`sk_crnn.ctc.frame_lengths`). The loss reads only those frames and each
    training batch is cut after its longest clip; prediction runs at the fitted length (so a
    clip's transcript does not depend on the clips batched with it) and the steps after a
    clip's end are the blank in ``predict_proba``.

    Parameters
    ----------{module_doc("SequenceCRNN").rstrip()}{COMMON_PARAMS_DOC.rstrip()}
        Here ``mixup`` and ``time_shift`` must stay 0: they break the match between a clip
        and its transcript.
    criterion : torch loss class, default=torch.nn.CTCLoss
        The loss; it is given ``blank=0`` and ``zero_infinity=True``.
    tokens : {{"auto", "words", "chars"}}, default="auto"
        What the network spells: ``"words"`` (one output per distinct word: commands,
        digit strings, any small closed vocabulary), ``"chars"`` (characters and the space:
        open vocabulary, transcripts with words unseen in training). ``"auto"`` picks words
        when the training transcripts hold at most {ctc.AUTO_MAX_WORDS} distinct words, each
        seen at least {ctc.AUTO_MIN_COUNT} times, and characters otherwise (measured, see the
        speech recognition guide). Transcripts are split at whitespace (runs of spaces count
        as one) and kept as given otherwise (case included).
    vocabulary : list of str or None, default=None
        The tokens (words, or characters) and their order; None takes the sorted distinct
        tokens of the training transcripts. Set it when a later ``partial_fit`` may bring new
        tokens; a training transcript with a token outside it is an error.
    group_by_length : bool, default=True
        Training batches of clips of similar lengths: the shuffled clips are cut into pools
        of 50 batches, each pool sorted by length, and the batches shuffled. Each batch is
        cut after its longest clip, so this trains on fewer padding frames (faster epochs);
        False draws plain random batches (``iterator_train__shuffle``).
    callbacks__gradient_clipping__gradient_clip_value : float, default=5.0
        The gradient norm is clipped to this value (a default callback,
        ``skorch.callbacks.GradientNormClipping``), as CTC training usually is.

    Attributes
    ----------
    tokens_ : {{"words", "chars"}}
        The token kind used (``tokens``, with ``"auto"`` resolved).
    vocabulary_ : ndarray of str objects, shape (n_outputs,)
        The output tokens; index 0 is the CTC blank, ``""``.
    n_outputs_ : int
        Number of outputs per step, the blank included.{COMMON_ATTRS_DOC.rstrip()}

    See Also
    --------
    sk_crnn.metrics.word_error_rate : The score.
    sk_crnn.CRNNClassifier : One label per clip.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_crnn import CRNNTranscriber
    >>> X = np.random.RandomState(0).randn(8, 16, 40).astype("float32")
    >>> y = ["up", "down up", "go", "stop go", "up", "down", "go go", "stop"]
    >>> asr = CRNNTranscriber(max_epochs=2, module__conv_channels=(4,), module__rnn_hidden=4,
    ...                       random_state=0).fit(X, y)
    >>> asr.tokens_, asr.vocabulary_.tolist()
    ('chars', ['', ' ', 'd', 'g', 'n', 'o', 'p', 's', 't', 'u', 'w'])
    >>> asr.predict_proba(X).shape  # 20 steps: time pooled by 2
    (8, 20, 11)
    >>> len(asr.predict(X))
    8
    """

    _parameter_constraints = {
        **SpectrogramNet._parameter_constraints,
        "tokens": Options(*ctc.TOKENS),
        "vocabulary": Rule(_check_vocabulary),
        "group_by_length": BOOL,
        "mixup": (Options(0), _NO_MIXUP),
        "time_shift": (Options(0), _NO_SHIFT),
    }
    _embeds = False

    def __init__(self, *, module=SequenceCRNN, criterion=torch.nn.CTCLoss, tokens="auto",
                 vocabulary=None, group_by_length=True, **kwargs):
        super().__init__(module, criterion=criterion, **kwargs)
        self.tokens = tokens
        self.vocabulary = vocabulary
        self.group_by_length = group_by_length

    @property
    def _default_callbacks(self):
        clip = ("gradient_clipping", GradientNormClipping(gradient_clip_value=5.0))
        callbacks = list(super()._default_callbacks)
        at = next(i for i, (name, _) in enumerate(callbacks) if name == "print_log")
        return callbacks[:at] + [clip] + callbacks[at:]

    # -- targets ------------------------------------------------------------------------------
    def _check_targets(self, y, X, *, reset, classes=None):
        transcripts = _as_transcripts(y)
        if reset:
            tokens = self.tokens if self.tokens != "auto" else ctc.choose_tokens(transcripts)
            if self.vocabulary is not None:
                vocabulary = np.array([ctc.BLANK, *self.vocabulary], dtype=object)
            else:
                if not any(transcripts):
                    raise ValueError(
                        f"Every one of the {len(transcripts)} transcripts in y is empty, so "
                        "there is nothing to learn; pass the transcripts of the clips.")
                vocabulary = ctc.vocabulary_of(transcripts, tokens)
        else:
            tokens, vocabulary = self.tokens_, self.vocabulary_
        encoded, unknown = ctc.encode_transcripts(transcripts, vocabulary, tokens)
        if unknown:
            self._unknown_tokens(unknown, transcripts, vocabulary, reset)
        lengths = ctc.frame_lengths(X)
        module = self._shape_probe(n_mels=X.shape[-2], n_outputs=len(vocabulary), reset=reset)
        self._check_lengths(encoded, lengths, transcripts, tokens, module)
        y_encoded = np.concatenate([lengths[:, None], encoded], axis=1)
        return y_encoded, {"tokens_": tokens, "vocabulary_": vocabulary,
                           "n_outputs_": len(vocabulary)}

    def _unknown_tokens(self, unknown, transcripts, vocabulary, reset):
        tok, i = next(iter(unknown.items()))
        where = ("the vocabulary parameter" if reset else "vocabulary_ (fixed in the first fit "
                 "or partial_fit)")
        raise ValueError(
            f"y holds {len(unknown)} token(s) not in {where}: {sorted(unknown)[:5]}; the first, "
            f"{tok!r}, is in transcript {i} ({transcripts[i]!r}). The network has no output for "
            f"them: pass vocabulary= with every token (now {list(vocabulary[1:])[:10]}...) "
            "before the first fit.")

    def _shape_probe(self, *, n_mels, n_outputs, reset):
        """The fitted module, or (in the first fit) one built as ``initialize_module`` will,
        outside torch's RNG, to count its output steps."""
        if not reset and hasattr(self, "module_"):
            return self.module_
        if isinstance(self.module, torch.nn.Module):
            return self.module
        kwargs = self._module_kwargs({"n_mels": n_mels, "n_outputs": n_outputs})
        with torch.random.fork_rng(devices=[]):
            return self.module(**kwargs)

    def _check_lengths(self, encoded, lengths, transcripts, tokens, module):
        steps = np.asarray(output_steps(module, lengths))
        needed = ctc.needed_steps(encoded)
        short = np.flatnonzero(needed > steps)
        if not len(short):
            return
        i = short[0]
        frames = int(lengths[i]) + 1
        while output_steps(module, frames) < needed[i]:
            frames += 1
        pools = getattr(getattr(module, "crnn", module), "time_pool", None)
        raise ValueError(
            f"{len(short)} transcript(s) are too long for the network's output frames. "
            f"Transcript {i} ({transcripts[i]!r}) has {(encoded[i] > 0).sum()} {tokens} and "
            f"needs {needed[i]} output frames (CTC puts a blank between repeated tokens), but "
            f"its clip has {lengths[i]} frames, which give {steps[i]} output frames after "
            f"the time pooling (time_pool={pools}); it needs at least {frames} input frames. "
            "Use a smaller hop_length in the MelSpectrogramTransformer, less time pooling "
            "(module__time_pool=1)" + (", or tokens='words'." if tokens == "chars" else "."))

    def _criterion_and_kwargs(self):
        """CTC with the blank at index 0 and ``zero_infinity=True``."""
        kwargs = self.get_params_for("criterion")
        if kwargs.get("blank", 0) != 0:
            raise ValueError(f"criterion__blank={kwargs['blank']!r}: the blank is index 0 of "
                             "vocabulary_; remove criterion__blank.")
        if self.criterion is torch.nn.CTCLoss:
            kwargs = {"blank": 0, "zero_infinity": True, **kwargs}
        return self.criterion, kwargs

    # -- training -----------------------------------------------------------------------------
    def get_iterator(self, dataset, training=False):
        """skorch's data loader; batches with encoded targets (training and validation) are
        cut after the true length of their longest clip, and training batches group clips
        of similar lengths (``group_by_length``)."""
        lengths = _encoded_lengths(dataset)
        if lengths is None:  # prediction: evaluation_step cuts the batches
            return super().get_iterator(dataset, training=training)
        kwargs = self.get_params_for("iterator_train" if training else "iterator_valid")
        iterator = self.iterator_train if training else self.iterator_valid
        collate = kwargs.get("collate_fn")  # the training batches' augmentation, if any
        if not isinstance(collate, AugmentedCollate):
            collate = AugmentedCollate(None, collate)
        kwargs["collate_fn"] = collate.preparing(  # trimmed before augmenting
            functools.partial(_trim_batch, min_frames=self._min_frames()))
        size = kwargs.pop("batch_size", self.batch_size)
        size = len(dataset) if size == -1 else size
        if (training and self.group_by_length and kwargs.get("shuffle", False)
                and iterator is torch.utils.data.DataLoader
                and not {"sampler", "batch_sampler"} & set(kwargs)):
            kwargs.pop("shuffle")
            kwargs.pop("drop_last", None)
            return torch.utils.data.DataLoader(
                dataset, batch_sampler=_LengthGroupedBatches(lengths, size), **kwargs)
        return iterator(dataset, batch_size=size, **kwargs)

    def _min_frames(self):
        crnn = getattr(getattr(self, "module_", None), "crnn", None)
        return getattr(crnn, "min_frames", 1)

    def _criterion_loss(self, y_pred, y_true, X=None, training=False):
        """CTC loss of the per-step logits ``y_pred`` (batch, steps, tokens) against the
        encoded targets (column 0: true frame lengths; then token indices padded with 0)."""
        y_true = torch.as_tensor(y_true, device=y_pred.device)
        frames, targets = y_true[:, 0], y_true[:, 1:]
        steps = torch.as_tensor(output_steps(self.module_, frames)).clamp(
            1, y_pred.shape[1])
        log_probs = torch.log_softmax(y_pred.float(), dim=-1).transpose(0, 1)
        return self.criterion_(log_probs, targets, steps, (targets > 0).sum(dim=1))

    # -- prediction ---------------------------------------------------------------------------
    def _inference_module(self, method="predict_proba"):
        """The base's, with each clip's padding filled before the network and the steps
        after its end a certain blank (:class:`sk_crnn._inference.CTCOutputs`)."""
        if method == "predict_proba":
            self.check_is_fitted()
            return CTCOutputs(self.module_, self._get_predict_nonlinearity())
        return super()._inference_module(method)

    def _get_predict_nonlinearity(self):
        if self.predict_nonlinearity == "auto":
            return lambda logits: torch.softmax(logits, dim=-1)
        return super()._get_predict_nonlinearity()

    @shared_docs
    def predict_proba(self, X):
        """Token posteriors per output step.

        {X_fitted}
        proba : ndarray of shape (n_clips, n_steps, n_outputs)
            Columns follow ``vocabulary_`` (column 0 is the blank); every row sums to 1.
            ``n_steps`` is the number of frames after the time pooling (half the input
            frames by default); steps after the end of a zero-padded clip are the blank.
        """
        return super().predict_proba(X)

    @shared_docs
    def predict(self, X):
        """Transcripts, by greedy (best path) decoding.

        {X_fitted}
        transcripts : ndarray of str objects, shape (n_clips,)
            Words joined by single spaces (``tokens_="words"``) or the characters spelled.
        """
        sequences = ctc.decode_greedy(self.predict_proba(X))
        sep = " " if self.tokens_ == "words" else ""
        out = np.empty(len(sequences), dtype=object)
        out[:] = [ctc.normalize_transcript(sep.join(self.vocabulary_[s])) for s in sequences]
        return out

    @shared_docs
    def score(self, X, y, sample_weight=None):
        """``1 - WER``: one minus the word error rate over all clips (it can go below 0).

        {X_fitted_params}
        y : sequence of str
            Reference transcripts.
        sample_weight : None
            Not supported.

        Returns
        -------
        score : float
            ``1 - word_error_rate(y, predict(X))``; words of ``y`` unseen in fit count as
            errors.
        """
        from .metrics import word_error_rate

        if sample_weight is not None:
            raise ValueError(f"{type(self).__name__}.score does not support sample_weight.")
        X = self._check_predict_X(X)
        check_consistent_length(X, y)
        return 1.0 - word_error_rate(_as_transcripts(y), self.predict(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.one_d_labels = True
        tags.input_tags.string = False
        return tags
