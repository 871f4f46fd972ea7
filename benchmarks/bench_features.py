"""Feature extraction speed: MelSpectrogramTransformer against librosa and a bare torch FFT.

Run from the repository root::

    python -m benchmarks.bench_features [--threads 2] [--quick]

For each workload, on the same clips, it times
(a) ``librosa.feature.melspectrogram`` + ``power_to_db`` called per clip in a loop,
(b) the same librosa calls on the whole batch at once,
(c) ``MelSpectrogramTransformer.transform``,
(d) the bare batched torch FFT of the same windowed frames (a lower bound: no power, mel or dB),
and prints clips/s, the ratios to (a) and (d), the max |difference| in dB against (a), and the
peak memory each method adds above its inputs (measured in a fresh process per method).
"""

import argparse
import ctypes
import gc
import multiprocessing as mp
import time

import librosa
import numpy as np
import torch

from sk_crnn import MelSpectrogramTransformer
from sk_crnn.datasets import make_tone_clips
from sk_crnn.features import FRAME_BLOCK

WORKLOADS = {
    "2000 x 1 s @ 16 kHz": dict(n_clips=2000, sr=16000, seconds=1.0),
    "100 x 10 s @ 22.05 kHz": dict(n_clips=100, sr=22050, seconds=10.0),
}
PARAMS = dict(n_fft=2048, hop_length=512, n_mels=128)  # librosa's defaults


def make_clips(n_clips, sr, seconds):
    X, _ = make_tone_clips(n_clips, sr=sr, duration=seconds, n_classes=4, random_state=0)
    return X


def librosa_loop(X, sr):
    return np.stack([
        librosa.power_to_db(librosa.feature.melspectrogram(y=x, sr=sr, **PARAMS)) for x in X
    ])


def librosa_batch(X, sr):
    # Note: power_to_db's top_db acts on the batch maximum here, not per clip.
    return librosa.power_to_db(librosa.feature.melspectrogram(y=X, sr=sr, **PARAMS))


def ours(X, sr):
    return MelSpectrogramTransformer(sr=sr, **PARAMS).fit(X).transform(X)


def bare_fft(X, sr, batch_size=64):
    """Only the FFT of the centred, windowed frames, chunked and blocked like the transformer
    (the same cache-sized blocks of frames), with no power, mel or dB step."""
    window = torch.hann_window(PARAMS["n_fft"])
    pad = PARAMS["n_fft"] // 2
    with torch.inference_mode():
        for start in range(0, len(X), batch_size):
            x = torch.nn.functional.pad(torch.from_numpy(X[start:start + batch_size]), (pad, pad))
            frames = x.unfold(-1, PARAMS["n_fft"], PARAMS["hop_length"])
            step = max(1, FRAME_BLOCK // frames.shape[0])
            for f in range(0, frames.shape[1], step):
                torch.fft.rfft(frames[:, f:f + step] * window, dim=-1)


METHODS = {
    "(a) librosa per-clip loop": librosa_loop,
    "(b) librosa whole batch": librosa_batch,
    "(c) MelSpectrogramTransformer": ours,
    "(d) bare torch FFT (bound)": bare_fft,
}


def _status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _peak_child(name, workload, threads, queue):
    torch.set_num_threads(threads)
    X = make_clips(**workload)
    METHODS[name](X[:2], workload["sr"])  # warm up: imports, caches, thread pools
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # return freed heap pages so reuse shows as growth
    with open("/proc/self/clear_refs", "w") as f:  # reset the peak (VmHWM) to the current RSS
        f.write("5")
    before = _status_kib("VmRSS")
    METHODS[name](X, workload["sr"])
    queue.put((_status_kib("VmHWM") - before) / 1024)


def peak_memory_mib(name, workload, threads):
    """Peak RSS the method adds above its input, in a fresh process."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_peak_child, args=(name, workload, threads, queue))
    proc.start()
    value = queue.get()
    proc.join()
    return value


def _long_child(minutes, dtype, queue):
    torch.set_num_threads(2)
    sr = 16000
    rng = np.random.default_rng(0)
    X = np.empty((1, int(minutes * 60 * sr)), dtype=np.float32)
    for start in range(0, X.shape[1], sr * 60):  # fill a minute at a time: no big temporaries
        X[0, start:start + sr * 60] = 0.1 * rng.standard_normal(min(sr * 60, X.shape[1] - start),
                                                                dtype=np.float32)
    t = MelSpectrogramTransformer(sr=sr, dtype=dtype, **PARAMS).fit(X[:, : sr])
    t.fit(X)
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = _status_kib("VmRSS")
    start = time.perf_counter()
    out = t.transform(X)
    seconds = time.perf_counter() - start
    queue.put((X.nbytes / 2**20, out.nbytes / 2**20, (_status_kib("VmHWM") - before) / 1024,
               seconds))


def long_audio():
    """Peak memory of transform on one long clip: it should grow with the output only."""
    print("\nOne long clip at 16 kHz (peak MiB: memory added above the input, output included)")
    print(f"{'audio':>8s} {'dtype':>8s} {'input MiB':>10s} {'output MiB':>11s} "
          f"{'peak MiB':>9s} {'peak - output':>14s} {'seconds':>8s}")
    ctx = mp.get_context("spawn")
    for dtype in ("float32", "float16"):
        for minutes in (10, 60):
            queue = ctx.Queue()
            proc = ctx.Process(target=_long_child, args=(minutes, dtype, queue))
            proc.start()
            in_mib, out_mib, peak, seconds = queue.get()
            proc.join()
            print(f"{minutes:5d} min {dtype:>8s} {in_mib:10.0f} {out_mib:11.1f} {peak:9.1f} "
                  f"{peak - out_mib:14.1f} {seconds:8.2f}", flush=True)


def best_time(fn, X, sr, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn(X, sr)
        times.append(time.perf_counter() - start)
    return min(times), out


def run(threads, repeats, memory):
    torch.set_num_threads(threads)
    print(f"torch {torch.__version__}, librosa {librosa.__version__}, {threads} torch threads, "
          f"best of {repeats}; params {PARAMS}")
    for title, workload in WORKLOADS.items():
        X = make_clips(**workload)
        sr = workload["sr"]
        results = {name: best_time(fn, X, sr, repeats) for name, fn in METHODS.items()}
        ref = results["(a) librosa per-clip loop"][1]
        t_a = results["(a) librosa per-clip loop"][0]
        t_d = results["(d) bare torch FFT (bound)"][0]
        out_mib = ref.astype(np.float32).nbytes / 2**20
        in_mib = X.nbytes / 2**20
        print(f"\n{title}: input {in_mib:.0f} MiB, output {out_mib:.0f} MiB "
              "(peak MiB: memory added above the input, output included)")
        print(f"{'method':32s} {'clips/s':>9s} {'vs (a)':>7s} {'vs (d)':>7s} "
              f"{'max|dB diff|':>12s} {'peak MiB':>9s}")
        for name, (seconds, out) in results.items():
            diff = "" if out is None else f"{np.abs(out - ref).max():.1e}"
            peak = f"{peak_memory_mib(name, workload, threads):.0f}" if memory else ""
            print(f"{name:32s} {len(X) / seconds:9.0f} {t_a / seconds:6.2f}x "
                  f"{t_d / seconds:6.2f}x {diff:>12s} {peak:>9s}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    parser.add_argument("--long-only", action="store_true",
                        help="only the long-clip memory runs")
    args = parser.parse_args()
    if not args.long_only:
        run(args.threads, args.repeats, not args.no_memory)
    if not args.no_memory:
        long_audio()


if __name__ == "__main__":
    main()
