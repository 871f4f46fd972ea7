"""Streaming: latency per chunk and real-time factor, and what a causal network costs.

Run from the repository root::

    python -m benchmarks.bench_streaming [--part latency accuracy] [--threads 2]
        [--seconds 60] [--seeds 0 1 2] [--quick]

``latency``: a causal pipeline of default size (``MelSpectrogramTransformer(sr=16000,
top_db=None)`` and ``CRNNEventDetector(module__causal=True)`` or ``CRNNClassifier(
module__causal=True)``, fitted for one epoch: speed does not depend on the weights) runs on
``--seconds`` of audio pushed in chunks of 10 ms and of 100 ms, through the Python
:class:`sk_crnn.streaming.Stream` and through the exported ONNX step in onnxruntime
(:class:`sk_crnn.streaming.OnnxStream`). Printed: the median and 95th percentile of the
seconds per ``push``, and the real-time factor (compute seconds / audio seconds; below 1 keeps
up with live audio), and the ratio of the two runtimes.

``accuracy``: the accuracy cost of streaming, in one run: ``bench_accuracy`` on the keyword
set (rows ``defaults`` and ``causal``) and ``bench_sed`` on the keyword streams (rows
``detector`` and ``causal``), over ``--seeds``. The ``causal`` rows are the defaults with
``module__causal=True`` and the transformer's ``top_db=None``: the pipeline that ``Stream``
runs.
"""

import argparse
import os
import tempfile
import time

import numpy as np
import torch
from sklearn.pipeline import make_pipeline

from sk_crnn import CRNNClassifier, CRNNEventDetector, MelSpectrogramTransformer
from sk_crnn.datasets import make_sound_scenes, make_tone_clips
from sk_crnn.streaming import Stream

SR = 16000
CHUNKS_MS = (10, 100)


def causal_pipeline(kind, quick):
    n = 8 if quick else 32
    mel = MelSpectrogramTransformer(sr=SR, top_db=None)
    if kind == "detector":
        X, y = make_sound_scenes(n, duration=4.0, sr=SR, n_classes=3, random_state=0)
        est = CRNNEventDetector(frame_rate=SR / mel.hop_length, module__causal=True,
                                max_epochs=1, random_state=0, verbose=0)
    else:
        X, y = make_tone_clips(n, sr=SR, duration=1.0, n_classes=4, random_state=0)
        est = CRNNClassifier(module__causal=True, max_epochs=1, random_state=0, verbose=0)
    return make_pipeline(mel, est).fit(X, y)


def run_stream(stream, audio, chunk):
    """Seconds of each push, and of the flush."""
    stream.reset()
    times = []
    for start in range(0, len(audio), chunk):
        t0 = time.perf_counter()
        stream.push(audio[start:start + chunk])
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    stream.flush()
    return np.asarray(times), time.perf_counter() - t0


def onnx_stream(pipe, folder, threads):
    """The ONNX step's runner, or None with the reason."""
    try:
        import onnxruntime as ort

        from sk_crnn.streaming import OnnxStream, export_onnx_step
    except ImportError as exc:
        return None, f"no ONNX step ({exc})"
    path = export_onnx_step(pipe, os.path.join(folder, "step.onnx"))
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return OnnxStream(session), ""


def latency(args):
    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal(int(args.seconds * SR))).astype(np.float32)
    print(f"\n## Latency: {args.seconds:g} s of audio at {SR} Hz, {args.threads} threads")
    print("| network | chunk | runtime | median ms / push | p95 ms / push | flush ms | "
          "real-time factor | x ONNX |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as folder:
        for kind in ("detector", "classifier"):
            pipe = causal_pipeline(kind, args.quick)
            runners = {"Stream": Stream(pipe)}
            ort_runner, why = onnx_stream(pipe, folder, args.threads)
            if ort_runner is not None:
                runners["ONNX step"] = ort_runner
            else:
                print(f"({why})")
            for ms in CHUNKS_MS:
                chunk = SR * ms // 1000
                rows = {}
                for name, runner in runners.items():
                    run_stream(runner, audio[: SR], chunk)  # warm-up
                    rows[name] = run_stream(runner, audio, chunk)
                ref = rows.get("ONNX step")
                for name, (times, flush) in rows.items():
                    rtf = (times.sum() + flush) / args.seconds
                    ratio = "-" if ref is None else (
                        f"{rtf / ((ref[0].sum() + ref[1]) / args.seconds):.2f}")
                    print(f"| {kind} | {ms} ms | {name} | {np.median(times) * 1e3:.2f} | "
                          f"{np.percentile(times, 95) * 1e3:.2f} | {flush * 1e3:.1f} | "
                          f"{rtf:.4f} | {ratio} |", flush=True)


def accuracy(args):
    from . import bench_accuracy, bench_sed

    seeds = [str(s) for s in args.seeds]
    print("\n## Accuracy: keywords, the default classifier against the causal one")
    extra = ["--limit", "30", "--epochs", "2"] if args.quick else []
    bench_accuracy.main(["--data", "keywords", "--rows", "defaults", "causal",
                         "--seeds", *seeds, *extra])
    print("\n## Accuracy: keyword streams (SED), the default detector against the causal one")
    extra = ["--n-train", "8", "--n-test", "4", "--epochs", "2"] if args.quick else []
    bench_sed.main(["--rows", "detector", "causal", "--seeds", *seeds, *extra])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", nargs="+", choices=["latency", "accuracy"],
                        default=["latency", "accuracy"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} torch threads")
    if "latency" in args.part:
        latency(args)
    if "accuracy" in args.part:
        accuracy(args)


if __name__ == "__main__":
    main()
