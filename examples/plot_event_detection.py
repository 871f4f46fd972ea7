"""
Sound events over the spectrogram
=================================

A :class:`~sk_crnn.CRNNEventDetector` says *when* each sound happens: ``predict`` returns, per
clip, a list of ``(onset_seconds, offset_seconds, label)`` events. The picture to check a
detector with is the spectrogram with the detected events drawn over it next to the
reference: :func:`~sk_crnn.plotting.plot_events` draws one lane per class, predicted events as
solid bars and reference events hatched.

The scenes come from :func:`~sk_crnn.datasets.make_sound_scenes`: steady tones, rising
chirps and noise bursts at random times over background noise, with their event lists.
"""

# %%
# Train a small detector
# ----------------------
# ``frame_rate`` tells the detector how many feature frames make a second: ``sr / hop_length``.
import matplotlib.pyplot as plt
from sklearn.pipeline import make_pipeline

from sk_crnn import CRNNEventDetector, MelSpectrogramTransformer
from sk_crnn.datasets import make_sound_scenes
from sk_crnn.plotting import plot_events

sr, hop_length = 8000, 128
X, events = make_sound_scenes(130, duration=3.0, sr=sr, n_classes=3, random_state=0)
print(events[0])  # (onset, offset, label) in seconds

detector = make_pipeline(
    MelSpectrogramTransformer(sr=sr, n_fft=256, hop_length=hop_length, n_mels=32,
                              normalize="band"),
    CRNNEventDetector(frame_rate=sr / hop_length, max_epochs=15, lr=3e-3,
                      module__conv_channels=(16, 16), module__rnn_hidden=32, random_state=0),
)
detector.fit(X[:120], events[:120])
print(f"event-based F1 on held-out scenes: {detector.score(X[120:], events[120:]):.2f}")

# %%
# Detected events against the reference
# -------------------------------------
# Three held-out scenes. Where a solid bar sits over a hatched one of the same colour, the
# detector found the event; the edges show how close its onsets and offsets are.
predicted = detector.predict(X[120:123])
S = detector[0].transform(X[120:123])
fig, axes = plt.subplots(3, 1, figsize=(9, 9), sharex=True, layout="constrained")
for i, ax in enumerate(axes):
    plot_events(S[i], predicted[i], events[120 + i], sr=sr, hop_length=hop_length, ax=ax)
    fig.axes[-1].set_ylabel("")  # the lanes' long label, said once in the title instead
    ax.set(title=f"held-out scene {i}", xlabel="Time (s)" if i == 2 else "")
fig.suptitle("Detected events (solid) and reference events (hatched)")
plt.show()

# %%
# Frame probabilities
# -------------------
# ``predict`` thresholds the per-frame probabilities of ``predict_proba`` (0.5 by default)
# and smooths them with a median filter; plotting them shows how sure the detector was.
proba = detector.predict_proba(X[120:121])[0]  # (n_frames, n_classes)
times = [t / detector[-1].frame_rate for t in range(proba.shape[0])]
fig, ax = plt.subplots(figsize=(9, 3), layout="constrained")
for k, label in enumerate(detector[-1].classes_):
    ax.plot(times, proba[:, k], label=label)
ax.axhline(detector[-1].threshold, color="grey", linestyle=":", label="threshold")
ax.set(xlabel="Time (s)", ylabel="Probability", title="held-out scene 0", ylim=(0, 1.02))
ax.legend(loc="upper right")
plt.show()
