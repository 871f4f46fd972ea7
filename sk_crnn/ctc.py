"""Connectionist temporal classification (CTC) helpers of :class:`~sk_crnn.CRNNTranscriber`.

Tokenising transcripts (words or characters), the vocabulary with the blank at index 0,
encoding transcripts as padded index arrays, the true frame lengths of zero-padded
spectrograms, the number of output frames a transcript needs, and greedy decoding.
"""

import numpy as np

# The one public function: greedy decoding of per-frame CTC posteriors (what a user with the
# transcriber's ``predict_proba`` needs). The rest are the transcriber's internals.
__all__ = ["decode_greedy"]

#: The blank symbol at index 0 of every vocabulary: it decodes to nothing.
BLANK = ""
TOKENS = ("auto", "words", "chars")
#: ``tokens="auto"`` picks words when the transcripts hold at most this many distinct words...
AUTO_MAX_WORDS = 20
#: ... and every word occurs at least this many times; characters otherwise.
AUTO_MIN_COUNT = 100


def normalize_transcript(text):
    """Whitespace runs become one space, leading and trailing space is dropped."""
    return " ".join(text.split())


def split_tokens(text, tokens):
    """The tokens of one (normalised) transcript: its words, or its characters and spaces."""
    return text.split() if tokens == "words" else list(text)


def choose_tokens(transcripts):
    """The token kind of ``tokens="auto"``: ``"words"`` for a small closed vocabulary (at
    most :data:`AUTO_MAX_WORDS` distinct words, each seen at least :data:`AUTO_MIN_COUNT`
    times, as in commands or digit strings), ``"chars"`` otherwise."""
    words, counts = np.unique([w for t in transcripts for w in t.split()], return_counts=True)
    if 0 < len(words) <= AUTO_MAX_WORDS and counts.min() >= AUTO_MIN_COUNT:
        return "words"
    return "chars"


def vocabulary_of(transcripts, tokens):
    """The blank followed by the sorted distinct tokens of ``transcripts``."""
    seen = sorted({tok for t in transcripts for tok in split_tokens(t, tokens)})
    return np.array([BLANK, *seen], dtype=object)


def encode_transcripts(transcripts, vocabulary, tokens):
    """Token indices of each transcript, padded with the blank (0) to the longest.

    Returns
    -------
    encoded : ndarray of shape (n_transcripts, max_tokens), int64
        Row ``i`` holds the indices of transcript ``i`` followed by zeros; the blank never
        occurs in a transcript, so its length is the count of non-zero entries.
    unknown : dict
        Token -> index of the first transcript holding it, for tokens not in ``vocabulary``.
    """
    index = {tok: i for i, tok in enumerate(vocabulary) if i > 0}
    rows = [split_tokens(t, tokens) for t in transcripts]
    encoded = np.zeros((len(rows), max([len(r) for r in rows] + [1])), dtype=np.int64)
    unknown = {}
    for i, row in enumerate(rows):
        for j, tok in enumerate(row):
            k = index.get(tok)
            if k is None:
                unknown.setdefault(tok, i)
            else:
                encoded[i, j] = k
    return encoded, unknown


def needed_steps(encoded):
    """Output frames CTC needs per transcript: its tokens plus one blank between each pair
    of equal neighbours ("go go" needs 3 frames)."""
    encoded = np.asarray(encoded)
    repeats = ((encoded[:, 1:] == encoded[:, :-1]) & (encoded[:, 1:] > 0)).sum(axis=1)
    return (encoded > 0).sum(axis=1) + repeats


def frame_lengths(X):
    """The true number of frames of each zero-padded spectrogram.

    ``MelSpectrogramTransformer`` pads short clips with zeros to the fitted length, and every
    frame of zeros gives the same values in all bands (the floor of the dB scale, after any
    normalisation), so the padding is the run of trailing frames equal to the last frame. The
    length kept is one frame past the last frame that differs from it (a clip that was not
    padded keeps all its frames).

    Parameters
    ----------
    X : ndarray or torch.Tensor of shape (n_clips, n_mels, n_frames) or (n_clips, 1, n_mels, \
n_frames)

    Returns
    -------
    lengths : ndarray (or, for a tensor ``X``, a tensor on its device) of shape (n_clips,), int64
        Between 1 and ``n_frames``.
    """
    X = X.reshape(X.shape[0], -1, X.shape[-1])
    n_frames = X.shape[-1]
    differs = (X != X[:, :, -1:]).any(axis=1)  # (n_clips, n_frames)
    if isinstance(differs, np.ndarray):
        frames = np.arange(n_frames)
        last = np.where(differs, frames, -1).max(axis=1)
        return np.minimum(last + 2, n_frames).astype(np.int64)
    import torch

    frames = torch.arange(n_frames, device=differs.device)
    last = torch.where(differs, frames, -1).amax(dim=1)
    return (last + 2).clamp(max=n_frames).long()


def fill_padding(X, lengths):
    """Replace the frames after each clip's end by the clip's mean over its own frames (per
    band): a neutral value, where the dB floor of zero padding is an extreme one that would
    weigh on the network's batch statistics.

    Parameters
    ----------
    X : torch.Tensor of shape (n_clips, n_mels, n_frames) or (n_clips, 1, n_mels, n_frames)
    lengths : torch.Tensor of shape (n_clips,)
        True frames of each clip (:func:`frame_lengths`).

    Returns
    -------
    X_filled : torch.Tensor of the same shape
    """
    import torch

    valid = torch.arange(X.shape[-1], device=X.device)[None, :] < lengths[:, None]
    valid = valid.view(X.shape[0], *([1] * (X.dim() - 2)), X.shape[-1])
    mean = (X * valid).sum(dim=-1, keepdim=True) / valid.sum(dim=-1, keepdim=True).clamp(min=1)
    return torch.where(valid, X, mean.to(X.dtype))


def decode_greedy(proba, lengths=None):
    """Best-path decoding: the most probable token of each frame, repeats merged, blanks
    dropped.

    Parameters
    ----------
    proba : ndarray of shape (n_clips, n_steps, n_tokens)
        Per-frame token posteriors (or logits); column 0 is the blank.
    lengths : array-like of shape (n_clips,) or None
        Frames of each clip to read; None reads all.

    Returns
    -------
    sequences : list of ndarray of int
        The token indices of each clip.
    """
    best = np.asarray(proba).argmax(axis=-1)
    out = []
    for i, path in enumerate(best):
        if lengths is not None:
            path = path[: int(lengths[i])]
        keep = np.ones(len(path), dtype=bool)
        keep[1:] = path[1:] != path[:-1]
        path = path[keep]
        out.append(path[path > 0])
    return out
