"""ONNX deployment speed: onnxruntime on the exported graph against the pipeline's own
``predict_proba``, on CPU.

Run from the repository root::

    python -m benchmarks.bench_onnx [--threads 2] [--repeats 50] [--quick]

For 1-s and 10-s clips at 16 kHz, a default ``MelSpectrogramTransformer`` followed by a
default ``CRNNClassifier`` (and a default ``CRNNEventDetector`` on the 10-s clips) is fitted
for one epoch (speed does not depend on the weights) and exported with
:func:`sk_crnn.export_onnx`. On the same clips it times

(a) ``pipeline.predict_proba`` (what a user calls in Python),
(b) the same computation as bare torch modules under ``torch.inference_mode`` (the front end
    and the inference module, no skorch and no scikit-learn: a lower bound for Python),
(c) ``onnxruntime.InferenceSession.run`` on the exported graph,

at batch 1 (latency: the median of ``--repeats`` calls, after warm-up) and batch 64
(throughput: clips per second over a few calls), with torch and onnxruntime given the same
number of threads, and prints the ratios (a)/(c) and (b)/(c) and the largest difference of
(c) from (a).
"""

import argparse
import os
import tempfile
import time

import numpy as np
import onnxruntime as ort
import torch
from sklearn.pipeline import make_pipeline

from sk_crnn import CRNNClassifier, CRNNEventDetector, MelSpectrogramTransformer, export_onnx
from sk_crnn.datasets import make_sound_scenes, make_tone_clips

SR = 16000


def fitted(kind, seconds, n_fit):
    if kind == "classifier":
        X, y = make_tone_clips(n_fit, sr=SR, duration=seconds, n_classes=4, random_state=0)
        est = CRNNClassifier(max_epochs=1, random_state=0)
    else:
        X, y = make_sound_scenes(n_fit, duration=seconds, sr=SR, n_classes=3, random_state=0)
        est = CRNNEventDetector(frame_rate=SR / 512, max_epochs=1, random_state=0)
    pipe = make_pipeline(MelSpectrogramTransformer(sr=SR), est)
    pipe.set_params(**{f"{pipe.steps[-1][0]}__verbose": 0})
    return pipe.fit(X, y), np.asarray(X, dtype=np.float32)


def bare_torch(pipe):
    front = pipe[0]._frontend_module().eval()
    net = pipe[-1]._inference_module("predict_proba").eval()

    def run(X):
        with torch.inference_mode():
            return net(front(torch.from_numpy(X))).numpy()
    return run


def latency(fn, x, repeats):
    for _ in range(3):
        fn(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def throughput(fn, X, calls):
    fn(X)
    start = time.perf_counter()
    for _ in range(calls):
        fn(X)
    return calls * len(X) / (time.perf_counter() - start)


def bench(kind, seconds, args, folder):
    pipe, X = fitted(kind, seconds, n_fit=16 if args.quick else 32)
    path = export_onnx(pipe, os.path.join(folder, f"{kind}_{seconds:g}s.onnx"))
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    methods = {
        "predict_proba": pipe.predict_proba,
        "bare torch": bare_torch(pipe),
        "onnxruntime": lambda x: session.run(None, {"waveform": x})[0],
    }
    batch = np.resize(X, (64 if not args.quick else 16, X.shape[1])).astype(np.float32)
    diff = float(np.abs(methods["onnxruntime"](batch[:8]) - pipe.predict_proba(batch[:8])).max())
    rows = {}
    for name, fn in methods.items():
        rows[name] = (latency(fn, batch[:1], args.repeats),
                      throughput(fn, batch, calls=2 if args.quick else 5))
    ref = rows["onnxruntime"]
    print(f"\n{kind}, {seconds:g}-s clips at {SR} Hz (max |onnx - predict_proba| {diff:.1e})")
    print(f"  {'method':<15} {'batch 1 ms':>11} {'x onnx':>7} {'batch 64 clips/s':>17} "
          f"{'onnx x':>7}")
    for name, (lat, thr) in rows.items():
        print(f"  {name:<15} {lat * 1e3:>11.2f} {lat / ref[0]:>7.2f} {thr:>17.1f} "
              f"{ref[1] / thr:>7.2f}")
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="a smoke run: fewer clips")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, onnxruntime {ort.__version__}, {args.threads} threads "
          f"for both; batch 1: median of {args.repeats} calls")
    with tempfile.TemporaryDirectory() as folder:
        for kind, seconds in [("classifier", 1.0), ("classifier", 10.0), ("detector", 10.0)]:
            bench(kind, seconds, args, folder)


if __name__ == "__main__":
    main()
