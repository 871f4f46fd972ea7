"""
Deploy with ONNX: the same probabilities without Python
=======================================================

:func:`~sk_crnn.export_onnx` writes a fitted pipeline as one ONNX graph, from raw waveforms to
what ``predict_proba`` computes, the log-mel front end included. onnxruntime runs it with
numpy only (no torch, no scikit-learn), in Python or in any of its other languages; the
graph's metadata holds what is needed to read its outputs (classes, frame rate, thresholds).

Here a small event detector is exported with ``any_length=True``, so that the graph keeps
every frame of a recording of any length, checked against ``predict_proba``, and run on a
recording four times its training length.
"""

# %%
# Train a detector and export it
# ------------------------------
import matplotlib.pyplot as plt
import numpy as np
import onnxruntime as ort
from sklearn.pipeline import make_pipeline

from sk_crnn import CRNNEventDetector, MelSpectrogramTransformer, export_onnx
from sk_crnn.datasets import make_sound_scenes
from sk_crnn.export import decode_events, onnx_metadata

sr, hop_length = 8000, 128
X, events = make_sound_scenes(60, duration=3.0, sr=sr, n_classes=3, random_state=0)
detector = make_pipeline(
    MelSpectrogramTransformer(sr=sr, n_fft=256, hop_length=hop_length, n_mels=32,
                              normalize="band"),
    CRNNEventDetector(frame_rate=sr / hop_length, max_epochs=10, lr=3e-3,
                      module__conv_channels=(16,), module__rnn_hidden=32, random_state=0),
).fit(X[:56], events[:56])
export_onnx(detector, "detector.onnx", any_length=True)

# %%
# Run the graph in onnxruntime
# ----------------------------
# A recording four times the training length: the graph takes float32 waveforms of shape
# ``(batch, samples)`` at the pipeline's sample rate and returns the probability of each class
# at each frame. :func:`~sk_crnn.export.decode_events` turns them into events as ``predict``
# does, with the thresholds and median filter stored in the graph.
session = ort.InferenceSession("detector.onnx")
meta = onnx_metadata(session)
recording = np.concatenate(X[56:60])[None].astype(np.float32)  # 12 s
onnx_proba = session.run(None, {"waveform": recording})[0][0]  # (n_frames, n_classes)
found = decode_events(onnx_proba[None], meta)[0]
print(meta["sk_crnn_task"], meta["classes"], onnx_proba.shape)
print("first events:", found[:3])

# On clips of the fitted length the graph gives ``predict_proba`` exactly (to float32
# rounding): the same front end, the same network.
clips = np.stack(X[56:60]).astype(np.float32)
difference = np.abs(session.run(None, {"waveform": clips})[0] - detector.predict_proba(clips))
print(f"largest difference from predict_proba: {difference.max():.1e}")

# %%
# Twelve seconds in one call
# --------------------------
# The frame probabilities of the whole recording, the reference events shaded in their
# class's colour and the decoded events drawn as bars above.
reference = [(on + 3.0 * i, off + 3.0 * i, label)
             for i, clip_events in enumerate(events[56:60]) for on, off, label in clip_events]
times = np.arange(len(onnx_proba)) / meta["frame_rate"]
fig, ax = plt.subplots(figsize=(9, 3.5), layout="constrained")
for k, label in enumerate(meta["classes"]):
    line, = ax.plot(times, onnx_proba[:, k], label=label)
    for on, off, name in reference:
        if name == label:
            ax.axvspan(on, off, color=line.get_color(), alpha=0.12)
    for on, off, name in found:
        if name == label:
            ax.plot([on, off], [1.04 + 0.03 * k] * 2, color=line.get_color(), linewidth=3)
ax.axhline(meta["thresholds"][0], color="grey", linestyle=":", label="threshold")
ax.set(xlabel="Time (s)", ylabel="Probability", ylim=(0, 1.13),
       title="onnxruntime on a 12-s recording: frame probabilities, decoded events (bars), "
             "reference (shaded)")
ax.legend(loc="lower right", ncols=4, fontsize="small")
plt.show()
