"""Event detection over long recordings: time and peak memory, streamed from the file or loaded.

Run from the repository root::

    python -m benchmarks.bench_long_recordings [--minutes 10 60] [--keep DIR]

A ``CRNNEventDetector`` with its defaults (``make_pipeline(MelSpectrogramTransformer(sr=16000),
CRNNEventDetector(frame_rate=16000 / 512, max_epochs=2))``; the training is not what is
measured) learns from 64 generated 4 s scenes; then a 16 kHz mono wav of each length (the
scenes tiled) is written and detected over windows of the training length (overlap 0.5), each
run in a fresh process, two ways:

- ``streamed``: ``sk_crnn.windows.detect_events_long(pipe, path)``: the file read in blocks;
- ``loaded``: ``detect_events_long(pipe, sk_crnn.io.load_audio([path], sr=16000)[0])``: what
  a user does without the path form (the whole recording in memory).

It prints seconds, seconds per hour of audio, the events found and the peak resident memory
of the process (``VmHWM``, Linux; it includes Python, torch and the model; the peak with the
model loaded and nothing predicted is ``idle``), then the ratio loaded / streamed.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SR, HOP = 16000, 512

CHILD = """
import json, sys, time
import joblib
from sk_crnn.io import load_audio
from sk_crnn.windows import detect_events_long
def peak_kb():  # this process's peak resident memory (VmHWM: reset by exec, not inherited)
    with open("/proc/self/status") as f:
        return int(next(line for line in f if line.startswith("VmHWM")).split()[1])
pipe = joblib.load(sys.argv[1])
mode, path = sys.argv[2], sys.argv[3]
idle = peak_kb()
start = time.perf_counter()
if mode == "idle":
    events = []
elif mode == "streamed":
    events = detect_events_long(pipe, path)
else:
    events = detect_events_long(pipe, load_audio([path], sr=16000)[0])
seconds = time.perf_counter() - start
peak = peak_kb()
print(json.dumps({"seconds": seconds, "events": len(events), "peak_kb": peak, "idle_kb": idle}))
"""


def write_recording(path, scenes, minutes):
    """A wav of ``minutes`` of the scenes tiled, written a scene at a time."""
    import soundfile as sf

    n = int(minutes * 60 * SR)
    with sf.SoundFile(path, "w", samplerate=SR, channels=1, subtype="PCM_16") as f:
        done, i = 0, 0
        while done < n:
            clip = scenes[i % len(scenes)][: n - done]
            f.write(clip)
            done, i = done + len(clip), i + 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[10, 60])
    parser.add_argument("--keep", default=None, help="folder for the model and the wav files")
    args = parser.parse_args(argv)

    import joblib
    import torch
    from sklearn.pipeline import make_pipeline

    from sk_crnn import CRNNEventDetector, MelSpectrogramTransformer
    from sk_crnn.datasets import make_sound_scenes

    folder = Path(args.keep or tempfile.mkdtemp(prefix="bench_long_"))
    folder.mkdir(parents=True, exist_ok=True)
    scenes, events = make_sound_scenes(64, duration=4.0, sr=SR, random_state=0)
    pipe = make_pipeline(MelSpectrogramTransformer(sr=SR),
                         CRNNEventDetector(frame_rate=SR / HOP, max_epochs=2, random_state=0))
    pipe.fit(scenes, events)
    model = folder / "detector.joblib"
    joblib.dump(pipe, model)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; detector trained on "
          f"64 scenes of 4 s; windows of 4 s, overlap 0.5")
    print("\n| recording | way | seconds | s per hour of audio | events | peak RSS MB | "
          "above idle MB |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for minutes in args.minutes:
        path = folder / f"recording_{minutes:g}min.wav"
        write_recording(path, scenes, minutes)
        size = os.path.getsize(path) / 1e6
        out = {}
        for mode in ("idle", "streamed", "loaded"):
            proc = subprocess.run([sys.executable, "-c", CHILD, str(model), mode, str(path)],
                                  capture_output=True, text=True, check=True)
            out[mode] = json.loads(proc.stdout.strip().splitlines()[-1])
        idle = out["idle"]["peak_kb"] / 1024
        for mode in ("streamed", "loaded"):
            r = out[mode]
            peak = r["peak_kb"] / 1024
            print(f"| {minutes:g} min ({size:.0f} MB wav) | {mode} | {r['seconds']:.1f} | "
                  f"{r['seconds'] / (minutes / 60):.0f} | {r['events']} | {peak:.0f} | "
                  f"{peak - idle:.0f} |", flush=True)
        s, ld = out["streamed"], out["loaded"]
        print(f"| {minutes:g} min | loaded / streamed | {ld['seconds'] / s['seconds']:.2f} | | "
              f"| {ld['peak_kb'] / s['peak_kb']:.2f} | |", flush=True)
        if args.keep is None:
            path.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
