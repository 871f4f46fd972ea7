"""Plots render off-screen with the right axes, lines and labels."""

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from skorch.history import History  # noqa: E402

from sk_crnn.plotting import plot_history, plot_spectrogram  # noqa: E402
from sk_crnn.transformers import MelSpectrogramTransformer  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def logmel():
    rng = np.random.default_rng(0)
    X = rng.uniform(-0.1, 0.1, size=(2, 16000)).astype(np.float32)
    mel = MelSpectrogramTransformer(sr=16000, n_fft=512, hop_length=256, n_mels=40)
    return mel.fit_transform(X)


def make_history(n_epochs=4, acc=True):
    h = History()
    for epoch in range(1, n_epochs + 1):
        h.new_epoch()
        h.record("epoch", epoch)
        h.record("train_loss", 1.0 / epoch)
        h.record("train_loss_best", True)
        h.record("valid_loss", 1.2 / epoch)
        h.record("valid_loss_best", True)
        if acc:
            h.record("valid_acc", 0.5 + 0.1 * epoch)
        h.record("dur", 0.1)
    return h


# -- plot_spectrogram ---------------------------------------------------------------------------
def test_spectrogram_axes_in_seconds_and_hz(logmel, tmp_path):
    ax = plot_spectrogram(logmel[0], sr=16000, hop_length=256, title="clip 0")
    assert ax.get_xlabel() == "Time" and ax.get_ylabel() == "Hz"
    assert ax.get_title() == "clip 0"
    x0, x1 = ax.get_xlim()
    assert x0 == pytest.approx(0.0, abs=0.01) and x1 == pytest.approx(63 * 256 / 16000, rel=0.02)
    y0, y1 = ax.get_ylim()  # librosa draws bands centred on their mel frequencies
    assert y0 == pytest.approx(0.0, abs=100) and y1 == pytest.approx(8000, rel=0.05)
    assert len(ax.figure.axes) == 2  # the Axes and its colour bar
    path = tmp_path / "spec.png"
    ax.figure.savefig(path)
    assert path.stat().st_size > 1000


def test_spectrogram_on_given_axes_without_colorbar_and_with_fmax(logmel):
    fig, axes = plt.subplots(1, 2)
    ax = plot_spectrogram(logmel[1], sr=16000, hop_length=256, ax=axes[1], fmax=4000,
                          colorbar=False)
    assert ax is axes[1] and len(fig.axes) == 2
    assert ax.get_ylim()[1] == pytest.approx(4000, rel=0.05)


def test_spectrogram_of_mfccs_counts_bands(logmel):
    mfcc = logmel[0, :13]
    ax = plot_spectrogram(mfcc, sr=16000, hop_length=256, y_axis=None)
    assert ax.get_ylabel() == "Band"
    assert ax.get_ylim() == pytest.approx((-0.5, 12.5))  # one unit per coefficient


def test_spectrogram_input_errors(logmel):
    with pytest.raises(ValueError, match=r"S must be 2-D.*S\[0\]"):
        plot_spectrogram(logmel, sr=16000, hop_length=256)
    with pytest.raises(ValueError, match="y_axis must be one of"):
        plot_spectrogram(logmel[0], sr=16000, hop_length=256, y_axis="bark")
    ax = plot_spectrogram(logmel[:1], sr=16000, hop_length=256)  # a batch of one is fine
    assert ax.get_xlabel() == "Time"


# -- plot_history -------------------------------------------------------------------------------
def test_history_losses_left_scores_right(tmp_path):
    ax = plot_history(make_history())
    assert [line.get_label() for line in ax.get_lines()] == ["train_loss", "valid_loss"]
    assert ax.get_xlabel() == "Epoch" and ax.get_ylabel() == "Loss"
    assert ax.get_xlim() == (1.0, 4.0)
    right = ax.figure.axes[-1]
    assert right is not ax and right.get_ylabel() == "Score"
    assert [line.get_label() for line in right.get_lines()] == ["valid_acc"]
    np.testing.assert_allclose(right.get_lines()[0].get_ydata(), [0.6, 0.7, 0.8, 0.9])
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["train_loss", "valid_loss", "valid_acc"]
    ax.figure.savefig(tmp_path / "history.png")
    assert (tmp_path / "history.png").exists()


def test_history_with_only_losses_has_one_axes():
    ax = plot_history(make_history(acc=False))
    assert len(ax.figure.axes) == 1 and len(ax.get_lines()) == 2


def test_history_selected_keys_and_missing_keys():
    ax = plot_history(make_history(), keys=["valid_acc"])
    assert ax.get_ylabel() == "Score" and len(ax.figure.axes) == 1
    with pytest.raises(ValueError, match=r"\['valid_f1'\] are not .*available: \['train_loss'"):
        plot_history(make_history(), keys=["valid_f1"])


def test_history_from_a_net_and_from_a_pipeline():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    class FittedNet:  # anything with a skorch-style history_ attribute
        history_ = make_history(3)

    ax = plot_history(FittedNet())
    assert len(ax.get_lines()) == 2 and ax.get_xlim() == (1.0, 3.0)
    pipe = make_pipeline(FunctionTransformer(), FittedNet())
    assert len(plot_history(pipe).get_lines()) == 2


def test_history_from_a_fitted_skorch_net():
    import torch
    from skorch import NeuralNetClassifier

    X = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    net = NeuralNetClassifier(torch.nn.Linear(3, 2), criterion=torch.nn.CrossEntropyLoss,
                              max_epochs=3, verbose=0, train_split=None)
    net.fit(X, y)
    ax = plot_history(net)
    assert [line.get_label() for line in ax.get_lines()] == ["train_loss"]
    assert ax.get_lines()[0].get_xdata().tolist() == [1, 2, 3]


def test_history_errors():
    with pytest.raises(ValueError, match="has no epochs"):
        plot_history(History())
    with pytest.raises(ValueError, match="without a training history"):
        plot_history(object())
    with pytest.raises(TypeError, match="skorch History"):
        plot_history([1, 2])
