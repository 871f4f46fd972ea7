"""Speech recognition on spoken keyword phrases: a hand-written CRNN-CTC against CRNNTranscriber.

``shared/data/keyword_phrases.npz``: phrases of 2-6 of ten keywords spoken as one utterance
by espeak-ng voices, 0.5-3.5 s at 16 kHz in white or pink noise (10-30 dB SNR), 2500 train /
500 test phrases, test voices unseen in train. In one run, for each seed:

(a) a plain hand-written PyTorch CRNN-CTC as a user would write it: librosa log-mels per clip
    (64 bands, n_fft 512, hop 160) standardised per band, conv blocks 32/64/64 (3x3,
    BatchNorm, ReLU, frequency pooling 2, time pooling 2 in the first block), a 2-layer
    bidirectional GRU of 128, a linear layer to the ten keywords plus the blank, CTC with the
    true frame lengths, Adam 1e-3, batch 32 (each batch padded to its longest clip), gradient
    norm clipped to 5, greedy decoding;
(b) ``make_pipeline(MelSpectrogramTransformer(sr=16000, n_fft=512, hop_length=160, n_mels=64,
    normalize="band"), CRNNTranscriber(max_epochs=15, random_state=seed))``.

Both train 15 epochs. Printed: word error rate, string accuracy (the whole transcript right),
training seconds and seconds per epoch, and the ratios (b) / (a).

Run: ``python -m benchmarks.bench_transcribe`` (long on a CPU: minutes per epoch);
smoke run: ``python -m benchmarks.bench_transcribe --seeds 0 --max-train 200 --max-test 100``.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SR, N_FFT, HOP, N_MELS = 16000, 512, 160, 64


def log_mels(clips):
    """librosa log-mels of each clip, (n_frames, n_mels) float32, as a user would compute."""
    import librosa

    out = []
    for clip in clips:
        S = librosa.feature.melspectrogram(y=clip, sr=SR, n_fft=N_FFT, hop_length=HOP,
                                           n_mels=N_MELS)
        out.append(librosa.power_to_db(S).T.astype(np.float32))
    return out


def handwritten(X_train, y_train, X_test, *, seed, epochs):
    """The plain PyTorch CRNN-CTC; returns (predicted transcripts, train seconds, epoch
    seconds, feature seconds)."""
    import torch
    from torch import nn
    from torch.nn.utils.rnn import pad_sequence

    start = time.perf_counter()
    feats_train, feats_test = log_mels(X_train), log_mels(X_test)
    stacked = np.concatenate(feats_train)
    mean, std = stacked.mean(axis=0), stacked.std(axis=0) + 1e-5
    feats_train = [torch.from_numpy((f - mean) / std) for f in feats_train]
    feats_test = [torch.from_numpy((f - mean) / std) for f in feats_test]
    feature_seconds = time.perf_counter() - start

    words = sorted({w for t in y_train for w in t.split()})
    index = {w: i + 1 for i, w in enumerate(words)}  # 0 is the blank
    targets = [torch.tensor([index[w] for w in t.split()]) for t in y_train]

    class Net(nn.Module):
        def __init__(self, n_out):
            super().__init__()
            layers, c_in = [], 1
            for c_out, time_pool in ((32, 2), (64, 1), (64, 1)):
                layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out),
                           nn.ReLU(), nn.MaxPool2d((2, time_pool))]
                c_in = c_out
            self.conv = nn.Sequential(*layers)
            self.rnn = nn.GRU(64 * (N_MELS // 8), 128, num_layers=2, batch_first=True,
                              bidirectional=True)
            self.out = nn.Linear(256, n_out)

        def forward(self, x):  # x: (batch, frames, mels)
            h = self.conv(x.transpose(1, 2).unsqueeze(1))  # (batch, C, F, T)
            b, c, f, t = h.shape
            h, _ = self.rnn(h.permute(0, 3, 1, 2).reshape(b, t, c * f))
            return self.out(h)  # (batch, T, n_out)

    torch.manual_seed(seed)
    net = Net(len(words) + 1)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    rng = np.random.default_rng(seed)

    def batch(idx, feats):
        x = pad_sequence([feats[i] for i in idx], batch_first=True)
        lengths = torch.tensor([len(feats[i]) for i in idx]) // 2  # time pooling 2
        return x, lengths

    start = time.perf_counter()
    epoch_seconds = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        net.train()
        order = rng.permutation(len(feats_train))
        for k in range(0, len(order), 32):
            idx = order[k:k + 32]
            x, lengths = batch(idx, feats_train)
            y = pad_sequence([targets[i] for i in idx], batch_first=True)
            y_lengths = torch.tensor([len(targets[i]) for i in idx])
            log_probs = net(x).log_softmax(-1).transpose(0, 1)
            loss = ctc(log_probs, y, lengths.clamp(max=log_probs.shape[0]), y_lengths)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            optimizer.step()
        epoch_seconds.append(time.perf_counter() - t0)
    train_seconds = time.perf_counter() - start

    net.eval()
    predictions = []
    with torch.no_grad():
        for k in range(0, len(feats_test), 64):
            idx = np.arange(k, min(k + 64, len(feats_test)))
            x, lengths = batch(idx, feats_test)
            best = net(x).argmax(-1)
            for path, n in zip(best, lengths):
                path = torch.unique_consecutive(path[:n])
                predictions.append(" ".join(words[i - 1] for i in path.tolist() if i > 0))
    return predictions, train_seconds, float(np.mean(epoch_seconds)), feature_seconds


def transcriber(X_train, y_train, X_test, *, seed, epochs, **params):
    from sklearn.pipeline import make_pipeline

    from sk_crnn import CRNNTranscriber, MelSpectrogramTransformer

    pipe = make_pipeline(
        MelSpectrogramTransformer(sr=SR, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS,
                                  normalize="band"),
        CRNNTranscriber(max_epochs=epochs, random_state=seed, **params))
    start = time.perf_counter()
    pipe.fit(X_train, y_train)
    train_seconds = time.perf_counter() - start
    net = pipe[-1]
    epoch_seconds = float(np.mean(net.history[:, "dur"]))
    feature_seconds = train_seconds - float(np.sum(net.history[:, "dur"]))
    return list(pipe.predict(X_test)), train_seconds, epoch_seconds, feature_seconds, net


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-train", type=int, default=None,
                        help="use only the first N training phrases (smoke runs)")
    parser.add_argument("--max-test", type=int, default=None,
                        help="use only the first N test phrases (smoke runs)")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a CRNNTranscriber parameter for (b) and (c), e.g. lr=0.003")
    parser.add_argument("--models", nargs="+", default=["a", "b"], choices=["a", "b", "c"],
                        help="a: hand-written, b: CRNNTranscriber defaults, c: "
                             "CRNNTranscriber(tokens='chars')")
    args = parser.parse_args(argv)
    path = DATA / "keyword_phrases.npz"
    if not path.exists():
        print(f"skipped: {path} not found")
        return 0
    sys.path.insert(0, str(DATA))
    from load_phrases import load

    from sk_crnn.metrics import word_error_rate

    X_train, y_train, X_test, y_test = load(str(path))
    X_train, y_train = X_train[: args.max_train], list(y_train[: args.max_train])
    X_test, y_test = X_test[: args.max_test], list(y_test[: args.max_test])
    print(f"{len(X_train)} train / {len(X_test)} test phrases, {args.epochs} epochs, seeds "
          f"{args.seeds}", flush=True)
    import ast

    params = {k: ast.literal_eval(v) for k, v in (p.split("=", 1) for p in args.param)}
    runs = {"a": handwritten, "b": lambda *a, **k: transcriber(*a, **params, **k),
            "c": lambda *a, **k: transcriber(*a, **{"tokens": "chars", **params}, **k)}
    rows = {key: [] for key in args.models}
    for seed in args.seeds:
        for key in args.models:
            pred, seconds, per_epoch, feat, *rest = runs[key](X_train, y_train, X_test,
                                                              seed=seed, epochs=args.epochs)
            wer = word_error_rate(y_test, pred)
            acc = float(np.mean([p == t for p, t in zip(pred, y_test)]))
            rows[key].append((wer, acc, seconds, per_epoch))
            extra = ""
            if rest:
                losses = ", ".join(f"{v:.2f}" for v in rest[0].history[:, "train_loss"])
                extra = f", tokens_={rest[0].tokens_!r}, train losses {losses}"
            print(f"seed {seed} ({key}): WER {wer:.4f}, string accuracy {acc:.4f}, train "
                  f"{seconds:.1f} s ({per_epoch:.1f} s/epoch, features {feat:.1f} s){extra}",
                  flush=True)
    names = {"a": "(a) hand-written PyTorch CRNN-CTC", "b": "(b) CRNNTranscriber defaults",
             "c": "(c) CRNNTranscriber(tokens='chars')"}
    print("\n| model | WER | string accuracy | train s | s/epoch |")
    print("| --- | --- | --- | --- | --- |")
    for key, values in rows.items():
        v = np.asarray(values)
        print(f"| {names[key]} | {v[:, 0].mean():.4f} [{v[:, 0].min():.4f}, {v[:, 0].max():.4f}]"
              f" | {v[:, 1].mean():.4f} | {v[:, 2].mean():.0f} | {v[:, 3].mean():.1f} |")
    if "a" in rows and "b" in rows:
        a, b = np.asarray(rows["a"]).mean(axis=0), np.asarray(rows["b"]).mean(axis=0)
        print(f"\nratios (b)/(a): WER {b[0] / max(a[0], 1e-12):.3f}, train seconds "
              f"{b[2] / a[2]:.3f}, seconds per epoch {b[3] / a[3]:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
