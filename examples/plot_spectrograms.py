"""
Spectrograms of each class
==========================

What does a model see? :class:`~sk_crnn.MelSpectrogramTransformer` turns waveforms into log-mel
spectrograms, and :func:`~sk_crnn.plotting.plot_spectrogram` draws one with time in seconds and
frequency in Hz. Looking at a few clips of each class is the first check of a new dataset: can
a person tell the classes apart on the picture? If not, a CRNN will struggle too.

Two generated datasets are shown: :func:`~sk_crnn.datasets.make_tone_clips`, whose class is the
pitch register of one note, and :func:`~sk_crnn.datasets.make_event_sequences`, whose class is
the *order* of two events in time.
"""

# %%
# Notes in three pitch registers
# ------------------------------
# Each clip holds one harmonic note at a random time over noise; the class is the band its
# fundamental is drawn from. One row per class, two clips each.
import matplotlib.pyplot as plt
import numpy as np

from sk_crnn import MelSpectrogramTransformer
from sk_crnn.datasets import make_event_sequences, make_tone_clips
from sk_crnn.plotting import plot_spectrogram

sr, hop_length = 8000, 64
X, y = make_tone_clips(6, sr=sr, duration=0.5, n_classes=3, random_state=0)
frontend = MelSpectrogramTransformer(sr=sr, n_fft=512, hop_length=hop_length, n_mels=48)
S = frontend.fit_transform(X)
print(S.shape)  # (n_clips, n_mels, n_frames), in dB
S -= S.max()  # dB below the loudest bin: one colour map for every panel

fig, axes = plt.subplots(3, 2, figsize=(8, 7), sharex=True, sharey=True, layout="constrained")
for k, row in enumerate(axes):
    for ax, i in zip(row, np.flatnonzero(y == k)):
        plot_spectrogram(S[i], sr=sr, hop_length=hop_length, ax=ax, colorbar=False,
                         title=f"class {k}, clip {i}")
fig.suptitle("make_tone_clips: the class is the pitch of the note")
plt.show()

# %%
# Two events whose order is the class
# -----------------------------------
# Here every clip holds the same two events, a rising chirp and a band of noise; only their
# order tells the classes apart. Statistics pooled over time cannot see it, a recurrent
# network can.
X, y = make_event_sequences(4, sr=sr, duration=1.0, random_state=1)
S = MelSpectrogramTransformer(sr=sr, n_fft=512, hop_length=hop_length, n_mels=48).fit_transform(X)
S -= S.max()

fig, axes = plt.subplots(2, 2, figsize=(8, 5), sharex=True, sharey=True, layout="constrained")
for ax, i in zip(axes.ravel(), np.argsort(y, kind="stable")):
    plot_spectrogram(S[i], sr=sr, hop_length=hop_length, ax=ax, colorbar=False, title=y[i])
fig.suptitle("make_event_sequences: the class is the order of the events")
plt.show()
