"""
Streaming: events while the audio is still coming in
====================================================

:class:`sk_crnn.streaming.Stream` runs a fitted pipeline on audio that arrives in chunks:
``push`` returns what became final since the last call, ``flush`` the rest at the end. With a
causal network (``module__causal=True``: a unidirectional GRU and convolutions that look
back only) and frame-local features (``top_db=None``) the streamed outputs equal the offline
ones, however the audio is cut.

Here a small detector streams a 9-s recording in ragged chunks of 20 to 300 ms. The picture
shows the frame probabilities as they arrived against those of the whole recording at once,
and when each event became final.
"""

# %%
# A causal detector
# -----------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.pipeline import make_pipeline

from sk_crnn import CRNNEventDetector, MelSpectrogramTransformer
from sk_crnn.datasets import make_sound_scenes
from sk_crnn.streaming import Stream

sr, hop_length = 8000, 128
X, events = make_sound_scenes(63, duration=3.0, sr=sr, n_classes=3, random_state=0)
detector = make_pipeline(
    MelSpectrogramTransformer(sr=sr, n_fft=256, hop_length=hop_length, n_mels=32,
                              top_db=None, normalize="band"),
    CRNNEventDetector(frame_rate=sr / hop_length, max_epochs=10, lr=3e-3,
                      module__causal=True, module__conv_channels=(16,),
                      module__rnn_hidden=32, random_state=0),
).fit(X[:60], events[:60])

# %%
# Push the recording in ragged chunks
# -----------------------------------
# After each push, the new frame probabilities and the events that finished are kept with
# the time of the audio received so far: that is when a live system would have known them.
recording = np.concatenate(X[60:63])  # 9 s
stream = Stream(detector)
rng = np.random.default_rng(0)
frames, arrivals, finished, received = [], [], [], 0
while received < len(recording):
    size = int(rng.integers(int(0.02 * sr), int(0.3 * sr)))
    chunk = recording[received:received + size]
    received += len(chunk)
    new = stream.push(chunk)
    frames.append(new)
    arrivals += [received / sr] * len(new)
    finished += [(event, received / sr) for event in stream.new_events()]
frames.append(stream.flush())
arrivals += [len(recording) / sr] * len(frames[-1])
finished += [(event, len(recording) / sr) for event in stream.new_events()]
streamed = np.concatenate(frames)
print(f"{len(streamed)} frames streamed, {len(finished)} events")

# However the audio is cut, the frames are the same: here against the recording pushed in
# one piece, and, on a clip of the fitted length, against ``predict_proba`` itself.
whole = Stream(detector)
reference = np.concatenate([whole.push(recording), whole.flush()])
print(f"largest difference from one piece: {np.abs(streamed - reference).max():.1e}")
clip = Stream(detector)
parts = [clip.push(part) for part in np.array_split(X[60], 11)] + [clip.flush()]
difference = np.abs(np.concatenate(parts) - detector.predict_proba(X[60:61])[0]).max()
print(f"largest difference from predict_proba on a 3-s clip: {difference:.1e}")
print("latency of each frame (s): median "
      f"{np.median(np.asarray(arrivals) - np.arange(len(streamed)) / stream.frame_rate):.3f}")

# %%
# What arrived, and when
# ----------------------
# Top: the frame probabilities streamed in ragged chunks (lines) over those of the recording
# pushed in one piece (dots): they are the same. Bottom: each event as a bar from its onset to
# its offset, and the moment it was reported (the marker): a short while after its offset,
# once the median filter had seen enough frames past its end.
times = np.arange(len(streamed)) / stream.frame_rate
fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True,
                                  layout="constrained", height_ratios=(2, 1))
classes = list(detector[-1].classes_)
colours = {}
for k, label in enumerate(classes):
    line, = top.plot(times, streamed[:, k], label=label)
    colours[label] = line.get_color()
    top.plot(times[::6], reference[::6, k], ".", color=line.get_color(), markersize=3)
top.set(ylabel="Probability", ylim=(0, 1.02), title="Frame probabilities streamed in ragged "
        "chunks (lines) and in one piece (dots)")
top.legend(loc="upper right", ncols=3, fontsize="small")
for (onset, offset, label), reported in finished:
    y = classes.index(label)
    bottom.plot([onset, offset], [y, y], color=colours[label], linewidth=6)
    bottom.plot(reported, y, "v", color="black", markersize=6)
bottom.set(yticks=range(len(classes)), yticklabels=classes, ylim=(-0.7, len(classes) - 0.3),
           xlabel="Time (s)", title="Events (bars) and when the stream reported them (markers)")
plt.show()
