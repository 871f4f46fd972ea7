"""
A transcript aligned with the CTC posteriors
============================================

A :class:`~sk_crnn.CRNNTranscriber` is trained with the CTC loss on (audio, transcript) pairs
without any alignment, yet its output is one probability per token for every output step,
and those steps line up with the audio. ``predict_proba`` returns these posteriors and
``predict`` decodes them greedily: the most probable token of each step, repeats merged,
blanks dropped. Drawing the posteriors under the spectrogram shows where the network
"hears" each character: short peaks between long stretches of the blank.

The audio is a toy spoken language from :func:`~sk_crnn.datasets.make_tone_phrases`: each
letter is a short tone of its own pitch, a word is a few letters, and words are separated by
pauses.
"""

# %%
# Train a small transcriber
# -------------------------
# With few training phrases, ``tokens="auto"`` picks characters (letters and the space).
import matplotlib.pyplot as plt
import numpy as np
from sklearn.pipeline import make_pipeline

from sk_crnn import CRNNTranscriber, MelSpectrogramTransformer
from sk_crnn.datasets import make_tone_phrases
from sk_crnn.metrics import char_error_rate
from sk_crnn.plotting import plot_spectrogram

sr, hop_length = 8000, 80
X, y = make_tone_phrases(200, sr=sr, n_words=5, n_letters=6, words_per_phrase=(1, 3),
                         random_state=0)
asr = make_pipeline(
    MelSpectrogramTransformer(sr=sr, n_fft=256, hop_length=hop_length, n_mels=24,
                              normalize="band"),
    CRNNTranscriber(max_epochs=25, lr=1e-2, module__conv_channels=(8, 16),
                    module__rnn_hidden=32, random_state=0),
).fit(X[:170], y[:170])
net = asr[-1]
print("tokens:", net.tokens_, list(net.vocabulary_))  # "" at index 0 is the CTC blank
predicted = asr.predict(X[170:])
print(f"character error rate on held-out phrases: {char_error_rate(y[170:], predicted):.3f}")
for ref, hyp in zip(y[170:174], predicted[:4]):
    print(f"{str(ref)!r:>12} -> {hyp!r}")

# %%
# Posteriors over time
# --------------------
# One held-out phrase: its spectrogram on top, the token posteriors (rows: blank, space,
# letters) below, on the same time axis. Each character of the decoded text is written
# where the greedy path first emits it. The spectrogram is drawn in dB, before the
# per-band normalisation the network sees.
i = 172
S = MelSpectrogramTransformer(sr=sr, n_fft=256, hop_length=hop_length,
                              n_mels=24).fit_transform(X[i:i + 1])[0]  # (n_mels, n_frames)
proba = asr.predict_proba(X[i:i + 1])[0]  # (n_steps, n_tokens), over the padded length
seconds_per_step = net.n_frames_in_ / proba.shape[0] * hop_length / sr
duration = len(X[i]) / sr
n_steps = int(np.ceil(duration / seconds_per_step))
labels = ["blank" if t == "" else "space" if t == " " else t for t in net.vocabulary_]

fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True, layout="constrained",
                                  height_ratios=(1, 1.2))
plot_spectrogram(S, sr=sr, hop_length=hop_length, ax=top, colorbar=False)
top.set(xlim=(0, duration), xlabel="")
fig.suptitle(f"reference: {str(y[i])!r}    decoded: {predicted[i - 170]!r}")
bottom.imshow(proba[:n_steps].T, aspect="auto", origin="lower", cmap="magma",
              extent=(0, n_steps * seconds_per_step, -0.5, len(labels) - 0.5))
bottom.set(yticks=range(len(labels)), yticklabels=labels, xlabel="Time (s)",
           ylabel="Token posterior")

best = proba[:n_steps].argmax(axis=1)
for step in range(n_steps):
    if best[step] != 0 and (step == 0 or best[step] != best[step - 1]):
        t = (step + 0.5) * seconds_per_step
        token = net.vocabulary_[best[step]]
        top.annotate("␣" if token == " " else token, (t, 1.0), xycoords=("data", "axes fraction"),
                     xytext=(0, 3), textcoords="offset points", ha="center", fontsize=13,
                     fontweight="bold")
        top.axvline(t, color="white", linewidth=0.8, linestyle=":")
plt.show()
