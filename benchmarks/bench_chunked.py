"""Peak memory and time of training from files: pipeline.fit against fit_in_chunks.

Run from the repository root::

    python -m benchmarks.bench_chunked [--sizes 2000 8000] [--chunk-size 1000] [--epochs 2]

Writes generated 1-second clips (``make_event_sequences``, 16 kHz) as wav files to a
temporary folder, then trains the same ``AudioLoader -> MelSpectrogramTransformer ->
CRNNClassifier`` pipeline on the first ``size`` files in two ways, each in a fresh process so
that its peak resident memory (``ru_maxrss``) is its own:

- ``pipeline.fit(paths, y)``: every clip and every spectrogram in memory at once, what a user
  writes first;
- ``fit_in_chunks(pipeline, paths, y, chunk_size=...)``: one chunk of files at a time.

Both train ``--epochs`` passes over the data (``max_epochs=epochs`` against ``max_epochs=1``
and ``n_passes=epochs``) and are scored on 1000 held-out files.
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SR = 16000
N_TEST = 1000


def write_files(folder, n_clips):
    import soundfile as sf

    from sk_crnn.datasets import make_event_sequences

    paths, labels = [], []
    for start in range(0, n_clips, 1000):  # generate in blocks: the parent stays small
        n = min(1000, n_clips - start)
        X, y = make_event_sequences(n, sr=SR, random_state=start)
        for i, (clip, label) in enumerate(zip(X, y)):
            paths.append(str(folder / f"clip{start + i:06d}.wav"))
            sf.write(paths[-1], clip, SR)
            labels.append(str(label))
    return paths, labels


def child(mode, manifest, size, chunk_size, epochs):
    """Train one way in this process; print a JSON line of the measurements."""
    from sklearn.pipeline import make_pipeline

    from sk_crnn import AudioLoader, CRNNClassifier, MelSpectrogramTransformer
    from sk_crnn.chunked import fit_in_chunks

    data = json.loads(Path(manifest).read_text())
    paths, labels = np.array(data["paths"]), np.array(data["labels"])
    train, test = slice(N_TEST, N_TEST + size), slice(0, N_TEST)
    pipe = make_pipeline(
        AudioLoader(sr=SR),
        MelSpectrogramTransformer(sr=SR, n_fft=512, hop_length=256, n_mels=40, duration=1.0),
        CRNNClassifier(max_epochs=epochs if mode == "fit" else 1, module__conv_channels=(16, 32),
                       module__rnn_hidden=32, random_state=0),
    )
    start = time.perf_counter()
    if mode == "fit":
        pipe.fit(paths[train], labels[train])
    else:
        fit_in_chunks(pipe, paths[train], labels[train], chunk_size=chunk_size,
                      n_passes=epochs, random_state=0)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    accuracy = float(np.mean(pipe.predict(paths[test]) == labels[test]))
    print(json.dumps({"seconds": seconds, "peak_mib": peak, "accuracy": accuracy}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 8000])
    parser.add_argument("--chunk-size", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--child", nargs=3, metavar=("MODE", "MANIFEST", "SIZE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, manifest, size = args.child
        child(mode, manifest, int(size), args.chunk_size, args.epochs)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        paths, labels = write_files(folder, N_TEST + max(args.sizes))
        manifest = folder / "manifest.json"
        manifest.write_text(json.dumps({"paths": paths, "labels": labels}))
        print(f"wrote {len(paths)} 1-s wav files in {time.perf_counter() - start:.1f} s; "
              f"chunk_size={args.chunk_size}, {args.epochs} passes, {N_TEST} test files")
        print(f"{'train clips':>11}  {'hours':>5}  {'way':<14} {'peak RSS MiB':>12}  "
              f"{'train s':>7}  {'accuracy':>8}")
        for size in args.sizes:
            for mode, name in [("fit", "pipeline.fit"), ("chunks", "fit_in_chunks")]:
                proc = subprocess.run(
                    [sys.executable, "-m", "benchmarks.bench_chunked", "--chunk-size",
                     str(args.chunk_size), "--epochs", str(args.epochs), "--child", mode,
                     str(manifest), str(size)],
                    capture_output=True, text=True, check=True,
                )
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                print(f"{size:>11}  {size / 3600:5.2f}  {name:<14} {r['peak_mib']:>12.0f}  "
                      f"{r['seconds']:>7.1f}  {r['accuracy']:>8.3f}", flush=True)


if __name__ == "__main__":
    main()
