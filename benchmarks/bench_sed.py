"""Sound event detection on spoken keywords placed in noisy 10-second streams.

Keywords from ``shared/data/keywords.npz`` are placed at random times (they may overlap) in
10-second streams of white or pink noise; train streams use the train clips, test streams the
test clips (unseen speakers). Each keyword's onset and offset are where the clean word's energy
is (``librosa.effects.trim``). The CRNN detector is compared with a frame-wise baseline without
recurrence: the same log-mel features, one frame at a time, into a logistic regression per
keyword. Both decode with the same threshold and median filter and are scored with the
event-based F1 (DCASE collars) and the segment-based F1 (1 s segments).

Run: ``OMP_NUM_THREADS=1 python -m benchmarks.bench_sed`` (a few minutes on one core).
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SR, HOP, DURATION = 16000, 256, 10.0


def word_bounds(clean, top_db=30):
    """Sample interval of the word in each clean int16 clip."""
    import librosa

    bounds = []
    for clip in clean.astype(np.float32) / 32767:
        _, (start, stop) = librosa.effects.trim(clip, top_db=top_db)
        bounds.append((int(start), int(max(stop, start + 1))))
    return bounds


def make_streams(n, clips, labels, bounds, rng, n_words=(3, 7)):
    """``n`` noisy streams with keywords at random times; returns waveforms and events."""
    length = int(DURATION * SR)
    X = np.empty((n, length), dtype=np.float32)
    all_events = []
    for i in range(n):
        stream = np.zeros(length)
        events = []
        for _ in range(rng.integers(*n_words, endpoint=True)):
            k = rng.integers(len(clips))
            start, stop = bounds[k]
            word = clips[k, start:stop] / (np.abs(clips[k, start:stop]).max() + 1e-9)
            at = int(rng.integers(0, length - len(word)))
            stream[at:at + len(word)] += rng.uniform(0.3, 1.0) * word
            events.append((at / SR, (at + len(word)) / SR, str(labels[k])))
        noise = rng.standard_normal(length)
        if rng.random() < 0.5:  # pink
            f = np.fft.rfft(noise)
            f[1:] /= np.sqrt(np.arange(1, f.size))
            noise = np.fft.irfft(f, length)
        noise *= rng.uniform(0.02, 0.1) / noise.std()
        X[i] = np.clip(0.5 * stream + noise, -1, 1)
        all_events.append(sorted(events))
    return X, all_events


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=200)
    parser.add_argument("--n-test", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--random-state", type=int, default=0)
    args = parser.parse_args(argv)
    if not (DATA / "keywords.npz").exists():
        print(f"skipped: {DATA / 'keywords.npz'} not found")
        return 0
    sys.path.insert(0, str(DATA))
    from load_keywords import load
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    from sk_crnn import CRNNEventDetector, MelSpectrogramTransformer
    from sk_crnn.events import events_to_frames, frames_to_events
    from sk_crnn.metrics import event_f1, segment_f1

    _, y_train, _, y_test = load(DATA / "keywords.npz")
    raw = np.load(DATA / "keywords.npz")
    clean_train = raw["clean_train"].astype(np.float32) / 32767
    clean_test = raw["clean_test"].astype(np.float32) / 32767
    rng = np.random.default_rng(args.random_state)
    start = time.perf_counter()
    X_train, ev_train = make_streams(args.n_train, clean_train, y_train,
                                     word_bounds(raw["clean_train"]), rng)
    X_test, ev_test = make_streams(args.n_test, clean_test, y_test,
                                   word_bounds(raw["clean_test"]), rng)
    n_events = sum(map(len, ev_train)) + sum(map(len, ev_test))
    print(f"{args.n_train} train and {args.n_test} test streams of {DURATION:.0f} s, "
          f"{n_events} keyword events, built in {time.perf_counter() - start:.1f} s")

    mel = MelSpectrogramTransformer(sr=SR, n_fft=512, hop_length=HOP, n_mels=40,
                                    normalize="band")
    F_train = mel.fit_transform(X_train)
    F_test = mel.transform(X_test)
    frame_rate = SR / HOP
    classes = np.unique(y_train).astype(str)
    rows = []

    detector = CRNNEventDetector(
        frame_rate=frame_rate, classes=classes, max_epochs=args.epochs, batch_size=16,
        lr=3e-3, module__conv_channels=(16, 32), module__time_pool=(1, 2), module__rnn_hidden=48,
        random_state=args.random_state)
    start = time.perf_counter()
    detector.fit(F_train, ev_train)
    seconds = time.perf_counter() - start
    pred = detector.predict(F_test)
    rows.append(("CRNNEventDetector", event_f1(ev_test, pred), segment_f1(ev_test, pred),
                 seconds))

    # Frame-wise baseline: each frame's log-mel bands alone, one logistic regression per class.
    n_frames = F_train.shape[-1]
    Y_train = events_to_frames(ev_train, n_frames=n_frames, frame_rate=frame_rate,
                               classes=classes)
    frames_train = F_train.transpose(0, 2, 1).reshape(-1, F_train.shape[1])
    frames_test = F_test.transpose(0, 2, 1).reshape(-1, F_test.shape[1])
    baseline = OneVsRestClassifier(LogisticRegression(max_iter=300))
    start = time.perf_counter()
    baseline.fit(frames_train, Y_train.reshape(-1, len(classes)).astype(int))
    seconds = time.perf_counter() - start
    proba = baseline.predict_proba(frames_test).reshape(len(F_test), n_frames, len(classes))
    pred = frames_to_events(proba, frame_rate=frame_rate, classes=classes,
                            threshold=detector.threshold, median_filter=detector.median_filter)
    rows.append(("frame-wise LogisticRegression", event_f1(ev_test, pred),
                 segment_f1(ev_test, pred), seconds))

    print(f"\n{'model':<30} {'event F1':>9} {'segment F1':>11} {'train s':>8}")
    for name, ev, seg, sec in rows:
        print(f"{name:<30} {ev:>9.3f} {seg:>11.3f} {sec:>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
