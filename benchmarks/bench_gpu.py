"""The GPU as a machine of its own: features, training and prediction against plain PyTorch.

Run from the repository root::

    python -m benchmarks.bench_gpu [--device cuda|cpu] [--quick] [--threads N]

Sized for under 5 minutes on one GPU (an estimate: not yet run on one); ``--device cpu
--quick`` is a smoke test of the script. It prints the device, the torch version and what it
skipped, then:

1. Features, numpy in and numpy out, on 4096 x 1 s and 512 x 10 s clips at 16 kHz (n_fft 512,
   hop 160, 64 mels, dB with top_db 80 per clip): ``MelSpectrogramTransformer.transform``
   against torchaudio's ``MelSpectrogram`` + ``AmplitudeToDB`` (when importable), a librosa loop
   (on a subset, scaled to all clips), the bare computation (``torch.stft`` + matmul + log on a
   tensor already on the device) and the host-device copy bound (upload of the clips and
   download of the features, pinned, nothing else).
2. Training seconds per epoch of ``CRNNClassifier`` (default network, 8192 random 64 x 101
   spectrograms, 10 classes) against two hand-written loops, one over a ``DataLoader`` and one
   with the data already on the device, at batch 32 and 256 for each precision the device
   supports ("32", "bf16", "16-mixed").
3. Prediction throughput: ``predict_proba`` against a hand-written inference loop, clips/s.
"""

import argparse
import platform
import time

import numpy as np
import torch

from sk_crnn import CRNNClassifier, MelSpectrogramTransformer
from sk_crnn._gpu_features import chunk_size
from sk_crnn.modules import CRNN

SR, FEATURES = 16000, dict(n_fft=512, hop_length=160, n_mels=64)
WORKLOADS = {"4096 x 1 s": (4096, 1.0), "512 x 10 s": (512, 10.0)}
QUICK_WORKLOADS = {"32 x 1 s": (32, 1.0), "4 x 10 s": (4, 10.0)}
LIBROSA_SUBSET = {1.0: 256, 10.0: 32}  # clips timed in the librosa loop, scaled to all
PRECISIONS, BATCHES, LR = ("32", "bf16", "16-mixed"), (32, 256), 1e-3
SKIPPED = []


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_time(fn, device, repeats):
    """Fastest of ``repeats`` timed calls after one untimed warm-up call; (seconds, result)."""
    result = fn()
    best = np.inf
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        result = fn()
        sync(device)
        best = min(best, time.perf_counter() - t0)
    return best, result


# -- 1. features ----------------------------------------------------------------------------
def torchaudio_method(device):
    try:
        import torchaudio
    except ImportError:
        SKIPPED.append("torchaudio (not importable)")
        return None
    mel = torchaudio.transforms.MelSpectrogram(
        sample_rate=SR, n_fft=FEATURES["n_fft"], hop_length=FEATURES["hop_length"],
        n_mels=FEATURES["n_mels"], norm="slaney", mel_scale="slaney", power=2.0,
        pad_mode="constant").to(device)
    to_db = torchaudio.transforms.AmplitudeToDB("power", top_db=80.0).to(device)

    def run(X):
        with torch.inference_mode():
            x = torch.from_numpy(X).to(device)[:, None]  # (clips, 1, samples): top_db per clip
            return to_db(mel(x))[:, 0].cpu().numpy()
    return run


def librosa_loop(X):
    import librosa

    return np.stack([librosa.power_to_db(librosa.feature.melspectrogram(
        y=x, sr=SR, **FEATURES), top_db=80.0) for x in X])


def bare(x, window, mel_t):
    """The computation alone, on a tensor already on the device: one STFT, one projection,
    the dB and top_db, no copies."""
    spec = torch.stft(x, FEATURES["n_fft"], FEATURES["hop_length"], window=window,
                      pad_mode="constant", return_complex=True)
    power = torch.view_as_real(spec).square_().sum(-1)  # (clips, n_freq, frames)
    db = torch.matmul(mel_t.T, power).clamp_(min=1e-10).log10_().mul_(10.0)
    return torch.maximum(db, db.amax(dim=(1, 2), keepdim=True) - 80.0)


def copy_bound(X, out_shape, device, repeats):
    """Seconds to upload the clips and download the features from and to pinned memory."""
    host_in = torch.from_numpy(X).pin_memory()
    host_out = torch.empty(out_shape, dtype=torch.float32, pin_memory=True)
    dev_in = torch.empty(X.shape, dtype=torch.float32, device=device)
    dev_out = torch.empty(out_shape, dtype=torch.float32, device=device)

    def run():
        dev_in.copy_(host_in, non_blocking=True)
        host_out.copy_(dev_out, non_blocking=True)
    return best_time(run, device, repeats)[0]


def bench_features(device, workloads, repeats, quick):
    print("\n== 1. Features: numpy in, numpy out (n_fft 512, hop 160, 64 mels, dB, top_db 80)")
    audio_tool = torchaudio_method(device)
    for name, (n_clips, seconds) in workloads.items():
        X = np.random.default_rng(0).uniform(-0.5, 0.5, (n_clips, int(SR * seconds)))
        bench_workload(name, X.astype(np.float32), seconds, device, audio_tool, repeats, quick)


def bench_workload(name, X, seconds, device, audio_tool, repeats, quick):
    n_clips, n = X.shape
    mel = MelSpectrogramTransformer(sr=SR, **FEATURES, device=str(device)).fit(X[:2])
    plan = mel._plan(device, fitted=True)
    rows, diffs = {}, {}
    ours, ref = best_time(lambda: mel.transform(X), device, repeats)
    rows["(a) MelSpectrogramTransformer"] = ours
    if audio_tool is not None:
        t, theirs = best_time(lambda: audio_tool(X), device, repeats)
        rows["(b) torchaudio MelSpectrogram+AmplitudeToDB"] = t
        diffs["torchaudio"] = np.abs(theirs - ref).max()
    subset = min(n_clips, 8 if quick else LIBROSA_SUBSET[seconds])
    t, theirs = best_time(lambda: librosa_loop(X[:subset]), torch.device("cpu"), 1)
    rows[f"(c) librosa loop ({subset} clips, scaled)"] = t * n_clips / subset
    diffs["librosa"] = np.abs(theirs - ref[:subset]).max()
    with torch.inference_mode():
        x = torch.from_numpy(X).to(device)
        rows["(d) bare stft+matmul+log on the device"] = best_time(
            lambda: bare(x, plan.window, plan.mel_t), device, repeats)[0]
    if device.type == "cuda":
        rows["(e) copy bound: pinned upload+download"] = copy_bound(X, ref.shape, device,
                                                                    repeats)
    else:
        SKIPPED.append(f"copy bound for {name} (no host-device copies on the CPU)")
    size = chunk_size(plan, n, n_clips, mel.batch_size)
    print(f"\n{name} @ 16 kHz ({X.nbytes / 2**20:.0f} MiB in, {ref.nbytes / 2**20:.0f} MiB "
          f"out; the transformer's chunk: {size} clips)")
    print(f"  {'method':48s} {'seconds':>9s} {'clips/s':>10s} {'(a) faster by':>14s}")
    for label, t in rows.items():
        print(f"  {label:48s} {t:9.4f} {n_clips / t:10.0f} {t / ours:13.2f}x")
    print("  max |(a) - x|: " + ", ".join(f"{k} {v:.2e} dB" for k, v in diffs.items()))
    if device.type == "cuda":
        bound = rows["(e) copy bound: pinned upload+download"]
        print(f"  (a) / copy bound: {ours / bound:.2f} (goal <= 2)")


# -- 2. training ------------------------------------------------------------------------------
def autocast(precision, device):
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    if precision == "16-mixed":
        return torch.autocast(device.type, dtype=torch.float16)
    return torch.autocast(device.type, enabled=False)


def hand_loop(X, y, device, batch, precision, epochs, on_device):
    """What a PyTorch user would write: the same module, Adam, cross-entropy and shuffled
    batches, with autocast (and a GradScaler for float16); seconds per epoch, setup
    included."""
    sync(device)
    t0 = time.perf_counter()
    torch.manual_seed(0)
    model = CRNN(n_mels=X.shape[1], n_frames=X.shape[2], n_outputs=10).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "16-mixed")
    if on_device:
        Xt, yt = torch.from_numpy(X).to(device), torch.from_numpy(y).to(device)
    else:
        loader = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y)),
            batch_size=batch, shuffle=True, pin_memory=device.type == "cuda")
    for _ in range(epochs):
        if on_device:
            order = torch.randperm(len(X), device=device)
            batches = ((Xt[i], yt[i]) for i in order.split(batch))
        else:
            batches = ((xb.to(device, non_blocking=True), yb.to(device, non_blocking=True))
                       for xb, yb in loader)
        for xb, yb in batches:
            optimizer.zero_grad(set_to_none=True)
            with autocast(precision, device):
                loss = loss_fn(model(xb), yb)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
    sync(device)
    return (time.perf_counter() - t0) / epochs, model


def ours(X, y, device, batch, precision, epochs):
    sync(device)
    t0 = time.perf_counter()
    clf = CRNNClassifier(max_epochs=epochs, batch_size=batch, lr=LR, precision=precision,
                         device=str(device), mixup=0.0, lr_schedule=None, random_state=0)
    clf.fit(X, y)
    sync(device)
    return (time.perf_counter() - t0) / epochs, clf


def supported_precisions(device, quick):
    out = []
    for precision in PRECISIONS:
        if precision == "16-mixed" and device.type != "cuda":
            SKIPPED.append("precision '16-mixed' (float16 autocast needs CUDA)")
        elif precision == "bf16" and device.type == "cpu" and quick:
            SKIPPED.append("precision 'bf16' on the CPU with --quick (emulated, slow)")
        elif (precision == "bf16" and device.type == "cuda"
              and not torch.cuda.is_bf16_supported()):
            SKIPPED.append("precision 'bf16' (this GPU has no bfloat16 support)")
        else:
            out.append(precision)
    return out


def bench_training(device, n_clips, epochs, quick):
    print(f"\n== 2. Training: default CRNN, {n_clips} random spectrograms 64 x 101, 10 classes, "
          f"{epochs} epoch(s) per fit, Adam {LR}, no mixup, constant lr; s/epoch incl. setup")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, n_clips)
    X = rng.standard_normal((n_clips, 64, 101), dtype=np.float32)
    X[np.arange(n_clips), y * 6] += 2.0  # a class-dependent band: there is something to learn
    methods = {"(a) CRNNClassifier": ours,
               "(b) loop over a DataLoader": lambda *a: hand_loop(*a, on_device=False),
               "(c) loop, data on the device": lambda *a: hand_loop(*a, on_device=True)}
    print(f"  {'batch':>5s} {'precision':>9s} " + " ".join(f"{m:>28s}" for m in methods)
          + f" {'(a)/(b)':>8s} {'(a)/(c)':>8s} {'vs 32':>6s}")
    fitted, base = None, {}
    precisions = supported_precisions(device, quick)
    for batch in BATCHES:
        for precision in precisions:
            secs = {}
            for name, method in methods.items():  # warm-up on a few batches, then timed
                if not quick:
                    method(X[:4 * batch], y[:4 * batch], device, batch, precision, 1)
                secs[name], model = method(X, y, device, batch, precision, epochs)
                if name.startswith("(a)") and precision == "32" and batch == BATCHES[-1]:
                    fitted = model
            a, b, c = secs.values()
            base.setdefault(batch, a)
            print(f"  {batch:5d} {precision:>9s} " + " ".join(f"{s:28.3f}" for s in secs.values())
                  + f" {a / b:8.2f} {a / c:8.2f} {base[batch] / a:5.2f}x")
    print("  ('vs 32': how much faster (a) runs than with precision '32' at that batch)")
    return fitted, X


# -- 3. prediction ----------------------------------------------------------------------------
def bench_prediction(clf, X, device, repeats):
    print("\n== 3. Prediction: predict_proba of the fitted classifier (precision '32', batch "
          f"{clf.batch_size}), {len(X)} spectrograms")
    model = clf.module_.eval()

    def plain():
        out = []
        with torch.inference_mode():
            Xt = torch.from_numpy(X)
            for start in range(0, len(X), clf.batch_size):
                xb = Xt[start:start + clf.batch_size].to(device, non_blocking=True)
                out.append(torch.softmax(model(xb), -1))
            return torch.cat(out).cpu().numpy()
    t_ours, p_ours = best_time(lambda: clf.predict_proba(X), device, repeats)
    t_plain, p_plain = best_time(plain, device, repeats)
    print(f"  (a) predict_proba {len(X) / t_ours:10.0f} clips/s; (b) hand-written loop "
          f"{len(X) / t_plain:10.0f} clips/s; (a)/(b) time {t_ours / t_plain:.2f}; "
          f"max |p(a) - p(b)| {np.abs(p_ours - p_plain).max():.1e}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: CUDA is not available here; use --device cpu")
    device = torch.device(args.device)
    name = (torch.cuda.get_device_name(device) if device.type == "cuda"
            else f"CPU {platform.processor() or platform.machine()}")
    print(f"device: {name}; torch {torch.__version__} (CUDA {torch.version.cuda}); "
          f"{torch.get_num_threads()} CPU threads{'; --quick' if args.quick else ''}")
    started = time.perf_counter()
    repeats = 1 if args.quick else 3
    bench_features(device, QUICK_WORKLOADS if args.quick else WORKLOADS, repeats, args.quick)
    clf, X = bench_training(device, 64 if args.quick else 8192, 1 if args.quick else 3,
                            args.quick)
    bench_prediction(clf, X, device, repeats)
    print(f"\nskipped: {'; '.join(SKIPPED) or 'nothing'}")
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
