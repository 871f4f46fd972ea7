"""sk_crnn.ctc: tokens, vocabularies, encoding, frame lengths of padded spectrograms, the
padding fill and greedy decoding of CRNNTranscriber."""

import numpy as np
import pytest
import torch

from sk_crnn import MelSpectrogramTransformer, ctc


# -- moved from test_transcription.py ----------------------------------------------------------
def test_tokens_vocabulary_and_encoding():
    texts = ["go  go", " up left", ""]
    texts = [ctc.normalize_transcript(t) for t in texts]
    assert texts == ["go go", "up left", ""]
    vocab = ctc.vocabulary_of(texts, "words")
    assert vocab.tolist() == ["", "go", "left", "up"]
    encoded, unknown = ctc.encode_transcripts(texts, vocab, "words")
    assert encoded.tolist() == [[1, 1], [3, 2], [0, 0]] and unknown == {}
    assert ctc.needed_steps(encoded).tolist() == [3, 2, 0]  # a blank between the two "go"
    chars = ctc.vocabulary_of(texts, "chars")
    assert chars[0] == "" and chars[1] == " " and "g" in chars.tolist()
    _, unknown = ctc.encode_transcripts(["go right"], vocab, "words")
    assert unknown == {"right": 0}


def test_greedy_decoding_merges_repeats_and_drops_blanks():
    path = np.array([[0, 1, 1, 0, 1, 2, 2, 0, 3]])
    proba = np.eye(4)[path]
    assert [s.tolist() for s in ctc.decode_greedy(proba)] == [[1, 1, 2, 3]]
    assert [s.tolist() for s in ctc.decode_greedy(proba, lengths=[5])] == [[1, 1]]


def test_auto_tokens_words_for_a_small_closed_vocabulary():
    commands = ["up left", "go", "stop up"] * 100
    assert ctc.choose_tokens(commands) == "words"
    rare = commands + ["a rare word"]  # seen once: a word model could hardly learn it
    assert ctc.choose_tokens(rare) == "chars"
    few = ["up left", "go", "stop up"] * 30  # each word 30-60 times: words learned nothing
    assert ctc.choose_tokens(few) == "chars"
    many = [f"w{i} w{i + 1}" for i in range(30)] * 200
    assert ctc.choose_tokens(many) == "chars"


def test_frame_lengths_find_the_zero_padding_of_the_transformer():
    rng = np.random.default_rng(0)
    clips = [0.1 * rng.standard_normal(n).astype(np.float32) for n in (4000, 2400, 800)]
    for normalize in (None, "band"):
        mel = MelSpectrogramTransformer(sr=8000, n_fft=256, hop_length=80, n_mels=16,
                                        normalize=normalize)
        S = mel.fit_transform(clips)
        true = [1 + len(c) // 80 for c in clips]
        lengths = ctc.frame_lengths(S)
        assert lengths[0] == S.shape[-1] == true[0]
        # the padded clips keep their frames and at most two more (the STFT window's
        # overlap with the padding, and one frame of the padding itself)
        assert all(t <= n <= t + 3 for t, n in zip(true[1:], lengths[1:]))


# -- tokens and vocabularies --------------------------------------------------------------------
def test_the_blank_and_the_token_kinds():
    assert ctc.BLANK == "" and ctc.TOKENS == ("auto", "words", "chars")


@pytest.mark.parametrize("text, expected", [
    ("  go\tleft\n now ", "go left now"), ("", ""), ("   ", ""), ("one", "one"),
])
def test_normalize_transcript(text, expected):
    assert ctc.normalize_transcript(text) == expected


def test_split_tokens_into_words_or_characters():
    assert ctc.split_tokens("go left", "words") == ["go", "left"]
    assert ctc.split_tokens("go left", "chars") == ["g", "o", " ", "l", "e", "f", "t"]
    assert ctc.split_tokens("", "words") == [] and ctc.split_tokens("", "chars") == []


def test_choose_tokens_at_its_limits():
    words = [f"w{i}" for i in range(ctc.AUTO_MAX_WORDS)]
    exactly = [" ".join(words)] * ctc.AUTO_MIN_COUNT  # 20 words, each seen 100 times
    assert ctc.choose_tokens(exactly) == "words"
    assert ctc.choose_tokens(exactly[:-1]) == "chars"  # each seen 99 times
    assert ctc.choose_tokens([t + " w20" for t in exactly]) == "chars"  # 21 words
    assert ctc.choose_tokens([""] * 200) == "chars"  # no words at all
    assert ctc.choose_tokens([]) == "chars"


def test_vocabulary_of_starts_with_the_blank():
    vocab = ctc.vocabulary_of(["b a", "c a"], "words")
    assert vocab.dtype == object and vocab.tolist() == ["", "a", "b", "c"]
    assert ctc.vocabulary_of(["ab", "ba "], "chars").tolist() == ["", " ", "a", "b"]
    assert ctc.vocabulary_of(["", ""], "words").tolist() == [""]


def test_encode_transcripts_pads_with_the_blank():
    vocab = ctc.vocabulary_of(["a b c"], "words")
    encoded, unknown = ctc.encode_transcripts(["c", "a b c a", ""], vocab, "words")
    assert encoded.dtype == np.int64 and encoded.shape == (3, 4)
    assert encoded.tolist() == [[3, 0, 0, 0], [1, 2, 3, 1], [0, 0, 0, 0]]
    assert (encoded > 0).sum(axis=1).tolist() == [1, 4, 0]  # the lengths
    assert unknown == {}
    # all empty: one column of blanks, so the array is never 0 wide
    encoded, _ = ctc.encode_transcripts(["", ""], vocab, "words")
    assert encoded.shape == (2, 1) and not encoded.any()
    assert ctc.encode_transcripts([], vocab, "words")[0].shape == (0, 1)


def test_encode_transcripts_reports_the_first_transcript_of_each_unknown_token():
    vocab = ctc.vocabulary_of(["ab"], "chars")
    encoded, unknown = ctc.encode_transcripts(["ab", "xa", "bxy"], vocab, "chars")
    assert unknown == {"x": 1, "y": 2}
    assert encoded.tolist() == [[1, 2, 0], [0, 1, 0], [2, 0, 0]]  # unknowns left as blanks


@pytest.mark.parametrize("rows, steps", [
    ([[1, 1, 1]], [5]),  # "go go go": a blank between each pair
    ([[1, 2, 1]], [3]),  # no equal neighbours
    ([[1, 2, 2, 0, 0]], [4]),  # the padding is not a repeat
    ([[0, 0]], [0]),
    ([[2, 2], [1, 0]], [3, 1]),
])
def test_needed_steps(rows, steps):
    assert ctc.needed_steps(np.array(rows)).tolist() == steps


# -- frame lengths and padding ------------------------------------------------------------------
def padded(lengths, n_mels=4, n_frames=10, floor=-80.0, seed=0):
    """Spectrograms with random frames up to each length and the floor value after it."""
    X = np.random.default_rng(seed).normal(size=(len(lengths), n_mels, n_frames))
    for i, n in enumerate(lengths):
        X[i, :, n:] = floor
    return X.astype(np.float32)


def test_frame_lengths_one_past_the_last_differing_frame():
    X = padded([10, 6, 9, 0])
    # clip 0 is not padded; the others keep one frame of padding (which may be the STFT's
    # overlap with the clip); clip 3 is all floor: at least one frame
    assert ctc.frame_lengths(X).tolist() == [10, 7, 10, 1]
    assert ctc.frame_lengths(X).dtype == np.int64
    assert ctc.frame_lengths(X[:, None]).tolist() == [10, 7, 10, 1]  # (n, 1, mels, frames)


def test_frame_lengths_of_a_tensor_is_a_tensor_with_the_same_values():
    X = padded([3, 8, 10, 1], seed=1)
    lengths = ctc.frame_lengths(torch.from_numpy(X))
    assert isinstance(lengths, torch.Tensor) and lengths.dtype == torch.int64
    assert lengths.device == torch.device("cpu")
    assert lengths.tolist() == ctc.frame_lengths(X).tolist() == [4, 9, 10, 2]


def test_frame_lengths_count_a_frame_that_differs_in_one_band_only():
    X = padded([5])
    X[0, :, 5:] = -80.0
    X[0, 2, 7] = -79.0  # one band of frame 7 above the floor
    assert ctc.frame_lengths(X).tolist() == [9]


def test_fill_padding_puts_each_bands_mean_after_the_clip():
    X = torch.from_numpy(padded([10, 4, 1]))
    lengths = torch.tensor([10, 4, 1])
    filled = ctc.fill_padding(X, lengths)
    assert filled.shape == X.shape and filled.dtype == X.dtype
    assert torch.equal(filled[0], X[0])  # not padded: unchanged
    for i, n in ((1, 4), (2, 1)):
        assert torch.equal(filled[i, :, :n], X[i, :, :n])  # the clip's own frames
        mean = X[i, :, :n].mean(dim=-1, keepdim=True)
        torch.testing.assert_close(filled[i, :, n:], mean.expand(-1, 10 - n))
    # (n, 1, mels, frames) as the network's input
    torch.testing.assert_close(ctc.fill_padding(X[:, None], lengths)[:, 0], filled)


def test_fill_padding_with_lengths_of_zero_leaves_zeros():
    X = torch.ones(1, 2, 3)
    assert torch.equal(ctc.fill_padding(X, torch.tensor([0])), torch.zeros(1, 2, 3))


# -- greedy decoding ----------------------------------------------------------------------------
def test_decode_greedy_reads_logits_and_each_clips_length():
    paths = np.array([[2, 2, 0, 2, 1, 1], [0, 0, 0, 0, 0, 0], [3, 0, 0, 3, 3, 2]])
    logits = 5.0 * np.eye(4)[paths] - 10.0  # negative scores: only the argmax matters
    out = ctc.decode_greedy(logits)
    assert [s.tolist() for s in out] == [[2, 2, 1], [], [3, 3, 2]]
    assert all(s.dtype.kind == "i" for s in out)
    out = ctc.decode_greedy(logits, lengths=np.array([2, 6, 0]))
    assert [s.tolist() for s in out] == [[2], [], []]
    assert ctc.decode_greedy(np.zeros((0, 5, 4))) == []
