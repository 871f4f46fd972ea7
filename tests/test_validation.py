"""The one validation style: tables, the decorator, the relations hook, one error class."""

import inspect

import numpy as np
import pytest
import soundfile as sf

from sk_crnn import datasets
from sk_crnn._validation import (
    BOOL,
    Interval,
    InvalidParameterError,
    Rule,
    validate_args,
    validate_params,
)
from sk_crnn.io import AudioLoader, load_audio
from sk_crnn.transformers import MelSpectrogramTransformer

GOOD = np.zeros((2, 2000), np.float32)


def test_the_error_is_both_a_value_error_and_a_type_error():
    assert issubclass(InvalidParameterError, ValueError)
    assert issubclass(InvalidParameterError, TypeError)


@pytest.fixture
def wav(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, np.zeros(800, np.float32), 8000)
    return str(path)


@pytest.mark.parametrize("call, message", [
    # tables of classes: the transformer, AudioLoader
    (lambda p: MelSpectrogramTransformer(sr=8000, center=1).fit(GOOD),
     "center must be True or False; got 1 of type int"),
    (lambda p: AudioLoader(mono=1).fit(), "mono must be True or False; got 1 of type int"),
    (lambda p: AudioLoader(n_jobs=0).fit(), "n_jobs=0 is not valid"),
    # the relations hook of a class
    (lambda p: MelSpectrogramTransformer(sr=8000, fmin=5000.0).fit(GOOD),
     "fmin=5000.0 must be below fmax=4000.0"),
    (lambda p: MelSpectrogramTransformer(sr=8000, n_fft=256, win_length=512).fit(GOOD),
     r"win_length must be an int in \[1, 256\] or None; got 512"),
    # a parameter refused while the filterbank is built
    (lambda p: MelSpectrogramTransformer(sr=8000, n_fft=64, n_mels=64).fit(GOOD),
     "would always be empty"),
    # the decorator of public functions, and its relations hook
    (lambda p: load_audio(p, mono=1), "mono must be True or False; got 1 of type int"),
    (lambda p: load_audio(p, on_error="ignore"), "on_error must be one of"),
    (lambda p: datasets.make_tone_clips(0), "n_samples must be an int >= 1; got 0"),
    (lambda p: datasets.make_event_sequences(2, duration=0.005), "too short for 2 events"),
    (lambda p: datasets.make_tone_phrases(2, words_per_phrase=(3, 2)),
     r"words_per_phrase\[1\] must be an int >= 3; got 2"),
    (lambda p: datasets.make_tone_phrases(2, words_per_phrase=3),
     r"words_per_phrase must be a \(smallest, largest\) pair"),
    (lambda p: datasets.load_audio_folder(p, shuffle="yes"), "shuffle must be True or False"),
])
def test_every_style_raises_the_one_error(wav, call, message):
    with pytest.raises(InvalidParameterError, match=message):
        call(wav)


def test_the_nets_table_raises_the_one_error():
    from sk_crnn import CRNNClassifier

    with pytest.raises(InvalidParameterError, match="early_stopping must be True or False"):
        CRNNClassifier(early_stopping=1)._check_params()
    with pytest.raises(InvalidParameterError, match="device='tpu'"):  # a Rule's own error
        CRNNClassifier(device="tpu")._check_params()


def test_mono_true_and_n_words_with_a_vocabulary_stay_accepted(wav):
    assert load_audio(wav, mono=True, sr=None)[0].shape == (800,)
    assert AudioLoader(mono=np.bool_(True), progress_bar=None).fit() is not None
    # n_words is ignored (so not checked) when a vocabulary is given
    X, y = datasets.make_tone_phrases(2, n_words=0, vocabulary=["ab"], random_state=0)
    assert set(y) == {"ab"}


def test_validate_params_calls_the_relations_hook_with_the_checked_values():
    seen = {}

    class Thing:
        def __init__(self, a, b):
            self.a, self.b = a, b

        def _check_relations(self, params):
            seen.update(params)
            if params["a"] > params["b"]:
                raise InvalidParameterError(f"a={self.a} must not exceed b={self.b}.")

    table = {"a": Interval("int", 0), "b": Rule(lambda value, name: value * 10)}
    assert validate_params(Thing(1, 2), table) == {"a": 1, "b": 20}
    assert seen == {"a": 1, "b": 20}  # the hook sees what the rules returned
    with pytest.raises(InvalidParameterError, match="a=30 must not exceed b=2"):
        validate_params(Thing(30, 2), table)
    with pytest.raises(InvalidParameterError, match="a must be an int >= 0; got 'x' of type"):
        validate_params(Thing("x", 2), table)


def test_validate_args_checks_defaults_keeps_the_signature_and_refuses_unknown_names():
    calls = []

    def relations(params):
        calls.append(params)

    @validate_args({"flag": BOOL, "n": Interval("int", 1)}, relations=relations)
    def func(x, *, flag=True, n=3):
        """Docs."""
        return x, flag, n

    assert func(5, n=4) == (5, True, 4)
    assert calls == [{"x": 5, "flag": True, "n": 4}]  # defaults filled in for the hook
    assert func.__doc__ == "Docs." and list(inspect.signature(func).parameters) == [
        "x", "flag", "n"]
    with pytest.raises(InvalidParameterError, match="flag must be True or False; got 1"):
        func(5, flag=1)
    with pytest.raises(RuntimeError, match="no argument"):
        validate_args({"missing": BOOL})(func.__wrapped__)


def test_a_rule_raising_a_plain_value_error_becomes_the_one_error():
    def positive(value, name):
        if value <= 0:
            raise ValueError(f"{name} must be positive; got {value}.")

    @validate_args({"k": Rule(positive)})
    def func(k):
        return k

    with pytest.raises(InvalidParameterError, match="k must be positive; got -1"):
        func(-1)
