"""Sound event detection on spoken keywords placed in noisy 10-second streams.

Keywords from ``shared/data/keywords.npz`` are placed at random times (they may overlap) in
10-second streams of white or pink noise; train streams use the train clips, test streams the
test clips (unseen speakers). Each keyword's onset and offset are where the clean word's energy
is (``librosa.effects.trim``). Log-mels: n_fft 512, hop 256 (62.5 frames/s), 40 bands. Rows,
each over ``--seeds`` (the streams are the same for every seed):

- ``handwritten``: the plain frame-level PyTorch CRNN a user would write (librosa log-mels
  standardised per band with the training statistics, conv 32/64/64 (3x3, BatchNorm, ReLU,
  frequency pooling 2), a bidirectional GRU of 64, one linear layer per frame, BCE, Adam 1e-3,
  batch 16, threshold 0.5, median filter 50 ms);
- ``detector``: ``make_pipeline(MelSpectrogramTransformer(sr=16000, n_fft=512,
  hop_length=256, n_mels=40), CRNNEventDetector(frame_rate=62.5, max_epochs=E))``, defaults;
- ``band``: the same with ``normalize="band"`` in the transformer;
- ``weak``: ``detector`` trained on weak labels only (per stream, the keywords heard, no times);
- ``causal``: ``detector`` made streamable (issue 31): ``module__causal=True`` and the
  transformer's ``top_db=None`` (not in the default rows);
- ``logreg``: a frame-wise baseline without recurrence (one frame's log-mel bands into a
  logistic regression per keyword; no seeds).

All are scored on the test streams with the event-based F1 (DCASE collars) and the
segment-based F1 (1 s segments) of ``sed_eval``; printed per seed, then per row the mean,
the worst seed, training seconds and seconds per epoch, and the ratio of the mean event F1 to
the hand-written CRNN's.

Run: ``python -m benchmarks.bench_sed [--seeds 0 1 2] [--rows ...] [--epochs 20]``; smoke
run: ``--n-train 20 --n-test 10 --epochs 1 --seeds 0``.
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


def handwritten(X_train, ev_train, X_test, *, classes, seed, epochs):
    """The plain PyTorch frame CRNN; returns (frame probabilities of the test streams, train
    seconds, seconds per epoch)."""
    import librosa
    import torch
    from torch import nn

    from sk_crnn.events import events_to_frames

    def log_mels(X):
        return np.stack([librosa.power_to_db(librosa.feature.melspectrogram(
            y=x, sr=SR, n_fft=512, hop_length=HOP, n_mels=40)) for x in X]).astype(np.float32)

    start = time.perf_counter()
    F_train, F_test = log_mels(X_train), log_mels(X_test)
    mean = F_train.mean(axis=(0, 2), keepdims=True)
    std = F_train.std(axis=(0, 2), keepdims=True) + 1e-5
    F_train, F_test = (F_train - mean) / std, (F_test - mean) / std
    Y = events_to_frames(ev_train, n_frames=F_train.shape[-1], frame_rate=SR / HOP,
                         classes=classes).astype(np.float32)

    class Net(nn.Module):
        def __init__(self, n_mels, n_out):
            super().__init__()
            layers, c_in = [], 1
            for c_out in (32, 64, 64):
                layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out),
                           nn.ReLU(), nn.MaxPool2d((2, 1))]
                c_in = c_out
            self.conv = nn.Sequential(*layers)
            self.rnn = nn.GRU(64 * (n_mels // 8), 64, batch_first=True, bidirectional=True)
            self.out = nn.Linear(128, n_out)

        def forward(self, x):  # (batch, mels, frames)
            h = self.conv(x.unsqueeze(1))
            b, c, f, t = h.shape
            h, _ = self.rnn(h.permute(0, 3, 1, 2).reshape(b, t, c * f))
            return self.out(h)  # (batch, frames, classes)

    torch.manual_seed(seed)
    net = Net(F_train.shape[1], len(classes))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    Xt, Yt = torch.from_numpy(F_train), torch.from_numpy(Y)
    epoch_seconds = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        net.train()
        for idx in torch.randperm(len(Xt)).split(16):
            loss = loss_fn(net(Xt[idx]), Yt[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        epoch_seconds.append(time.perf_counter() - t0)
    seconds = time.perf_counter() - start
    net.eval()
    with torch.no_grad():
        proba = torch.cat([torch.sigmoid(net(x)) for x in torch.from_numpy(F_test).split(32)])
    return proba.numpy(), seconds, float(np.mean(epoch_seconds))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=200)
    parser.add_argument("--n-test", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rows", nargs="+",
                        default=["handwritten", "detector", "band", "weak", "logreg"])
    parser.add_argument("--data-seed", type=int, default=0, help="seed of the streams")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a CRNNEventDetector parameter for the detector rows, e.g. "
                             "pos_weight=None (to try a default)")
    args = parser.parse_args(argv)
    import ast

    params = {k: ast.literal_eval(v) for k, v in (p.split("=", 1) for p in args.param)}
    if not (DATA / "keywords.npz").exists():
        print(f"skipped: {DATA / 'keywords.npz'} not found")
        return 0
    sys.path.insert(0, str(DATA))
    import torch
    from load_keywords import load
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline

    from sk_crnn import CRNNEventDetector, MelSpectrogramTransformer
    from sk_crnn.events import events_to_frames, frames_to_events
    from sk_crnn.metrics import event_f1, segment_f1

    _, y_train, _, y_test = load(DATA / "keywords.npz")
    raw = np.load(DATA / "keywords.npz")
    clean_train = raw["clean_train"].astype(np.float32) / 32767
    clean_test = raw["clean_test"].astype(np.float32) / 32767
    rng = np.random.default_rng(args.data_seed)
    start = time.perf_counter()
    X_train, ev_train = make_streams(args.n_train, clean_train, y_train,
                                     word_bounds(raw["clean_train"]), rng)
    X_test, ev_test = make_streams(args.n_test, clean_test, y_test,
                                   word_bounds(raw["clean_test"]), rng)
    n_events = sum(map(len, ev_train)) + sum(map(len, ev_test))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.n_train} train "
          f"and {args.n_test} test streams of {DURATION:.0f} s, {n_events} keyword events, "
          f"built in {time.perf_counter() - start:.1f} s; {args.epochs} epochs; detector "
          f"parameters {params or 'defaults'}")
    frame_rate = SR / HOP
    classes = np.unique(y_train).astype(str)
    weak_train = [sorted({label for _, _, label in clip}) for clip in ev_train]
    decode = dict(frame_rate=frame_rate, classes=classes, threshold=0.5, median_filter=0.05)

    def pipeline(seed, **mel_params):
        return make_pipeline(
            MelSpectrogramTransformer(sr=SR, n_fft=512, hop_length=HOP, n_mels=40,
                                      **mel_params),
            CRNNEventDetector(frame_rate=frame_rate, classes=classes, max_epochs=args.epochs,
                              random_state=seed, **params))

    def run(row, seed):
        """(predicted events, train seconds, seconds per epoch)."""
        if row == "handwritten":
            proba, seconds, per_epoch = handwritten(X_train, ev_train, X_test, classes=classes,
                                                    seed=seed, epochs=args.epochs)
            return frames_to_events(proba, **decode), seconds, per_epoch
        if row == "logreg":
            mel = MelSpectrogramTransformer(sr=SR, n_fft=512, hop_length=HOP, n_mels=40,
                                            normalize="band")
            F_train, F_test = mel.fit_transform(X_train), mel.transform(X_test)
            n_frames = F_train.shape[-1]
            Y = events_to_frames(ev_train, n_frames=n_frames, frame_rate=frame_rate,
                                 classes=classes)
            t0 = time.perf_counter()
            model = OneVsRestClassifier(LogisticRegression(max_iter=300)).fit(
                F_train.transpose(0, 2, 1).reshape(-1, F_train.shape[1]),
                Y.reshape(-1, len(classes)).astype(int))
            seconds = time.perf_counter() - t0
            proba = model.predict_proba(F_test.transpose(0, 2, 1).reshape(-1, F_test.shape[1]))
            proba = proba.reshape(len(F_test), n_frames, len(classes))
            return frames_to_events(proba, **decode), seconds, float("nan")
        if row == "causal":  # the network and features Stream runs (issue 31)
            pipe = pipeline(seed, top_db=None)
            pipe.set_params(crnneventdetector__module__causal=True)
        else:
            pipe = pipeline(seed, **({"normalize": "band"} if row == "band" else {}))
        t0 = time.perf_counter()
        pipe.fit(X_train, weak_train if row == "weak" else ev_train)
        seconds = time.perf_counter() - t0
        return pipe.predict(X_test), seconds, float(np.mean(pipe[-1].history[:, "dur"]))

    print("\n| row | seed | event F1 | segment F1 | train s | s/epoch |")
    print("| --- | --- | --- | --- | --- | --- |")
    results = {}
    for seed in args.seeds:
        for row in args.rows:
            if row == "logreg" and row in results:
                continue
            pred, seconds, per_epoch = run(row, seed)
            scores = (event_f1(ev_test, pred), segment_f1(ev_test, pred), seconds, per_epoch)
            results.setdefault(row, []).append(scores)
            print(f"| {row} | {'-' if row == 'logreg' else seed} | {scores[0]:.3f} | "
                  f"{scores[1]:.3f} | {seconds:.0f} | {per_epoch:.1f} |", flush=True)
    ref = np.mean([r[0] for r in results["handwritten"]]) if "handwritten" in results else None
    print("\n| row | mean event F1 | worst event F1 | mean segment F1 | train s | s/epoch | "
          "event F1 / handwritten |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row, values in results.items():
        v = np.asarray(values)
        ratio = f"{v[:, 0].mean() / ref:.3f}" if ref else "-"
        per_epoch = "-" if np.isnan(v[:, 3]).all() else f"{np.nanmean(v[:, 3]):.1f}"
        print(f"| {row} | {v[:, 0].mean():.3f} | {v[:, 0].min():.3f} | {v[:, 1].mean():.3f} | "
              f"{v[:, 2].mean():.0f} | {per_epoch} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
