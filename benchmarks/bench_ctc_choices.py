"""The measurements behind CRNNTranscriber's choices, on generated tone phrases.

``sk_crnn.datasets.make_tone_phrases``: a toy language whose letters are tones and whose
words are 2-4 letters, phrases of 1-5 words with short pauses, over noise (8 kHz, log-mels
at 100 frames/s). Three questions, each answered by test-set word error rates:

- ``tokens``: words or characters, as the vocabulary grows at a fixed amount of training
  data (the crossover sets ``tokens="auto"``); test phrases use only words heard in training.
- lengths: the CTC loss over each clip's true frames (what the estimator does) or over all
  frames of the zero-padded clips.
- decoding: greedy against pyctcdecode's beam search (no language model), when installed.

Run: ``python -m benchmarks.bench_ctc_choices`` (about 30 minutes on 2 busy CPU cores).
"""

import argparse
import time

import numpy as np


def data(n_words, n_train, n_test, seed=0):
    from sk_crnn.datasets import make_tone_phrases

    X, y = make_tone_phrases(n_train, n_words=n_words, words_per_phrase=(1, 5),
                             random_state=seed)
    heard = sorted({w for t in y for w in t.split()})
    X_test, y_test = make_tone_phrases(n_test, vocabulary=heard, words_per_phrase=(1, 5),
                                       random_state=seed + 1000)
    counts = np.unique([w for t in y for w in t.split()], return_counts=True)[1]
    return X, y, X_test, y_test, counts


def pipeline(tokens, epochs, seed):
    from sklearn.pipeline import make_pipeline

    from sk_crnn import CRNNTranscriber, MelSpectrogramTransformer

    return make_pipeline(
        MelSpectrogramTransformer(sr=8000, n_fft=256, hop_length=80, n_mels=32,
                                  normalize="band"),
        CRNNTranscriber(tokens=tokens, max_epochs=epochs, lr=3e-3, random_state=seed,
                        module__conv_channels=(16, 32), module__rnn_hidden=64))


def fit_score(pipe, X, y, X_test, y_test):
    from sk_crnn.metrics import word_error_rate

    start = time.perf_counter()
    pipe.fit(X, y)
    seconds = time.perf_counter() - start
    return word_error_rate(y_test, pipe.predict(X_test)), seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=300)
    parser.add_argument("--n-test", type=int, default=150)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--vocab-sizes", type=int, nargs="+", default=[5, 30, 120])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip", nargs="*", default=[], choices=["tokens", "lengths", "beam"])
    args = parser.parse_args(argv)
    from sk_crnn import ctc, transcription

    if "tokens" not in args.skip:
        print("| distinct words | mean / min occurrences | WER words | WER chars | auto picks |")
        print("| --- | --- | --- | --- | --- |")
        for n_words in args.vocab_sizes:
            X, y, X_test, y_test, counts = data(n_words, args.n_train, args.n_test, args.seed)
            wer = {tok: fit_score(pipeline(tok, args.epochs, args.seed), X, y, X_test,
                                  y_test)[0] for tok in ("words", "chars")}
            print(f"| {len(counts)} | {counts.mean():.1f} / {counts.min()} | "
                  f"{wer['words']:.3f} | {wer['chars']:.3f} | {ctc.choose_tokens(y)} |",
                  flush=True)

    X, y, X_test, y_test, _ = data(10, args.n_train, args.n_test, args.seed)
    if "lengths" not in args.skip:
        print("\n| CTC input lengths | WER (words) | fit s |")
        print("| --- | --- | --- |")
        true_lengths = ctc.frame_lengths
        for name in ("true frames (default)", "all padded frames"):
            if name.startswith("all"):  # every clip as long as the longest: no trimming
                transcription.ctc.frame_lengths = lambda S: true_lengths(S) * 0 + S.shape[-1]
            try:
                w, s = fit_score(pipeline("words", args.epochs, args.seed), X, y, X_test,
                                 y_test)
            finally:
                transcription.ctc.frame_lengths = true_lengths
            print(f"| {name} | {w:.3f} | {s:.0f} |", flush=True)

    if "beam" not in args.skip:
        try:
            from pyctcdecode import build_ctcdecoder
        except ImportError:
            print("\nbeam search: pyctcdecode is not installed; skipped")
            return 0
        from sk_crnn.metrics import word_error_rate

        pipe = pipeline("chars", args.epochs, args.seed).fit(X, y)
        asr = pipe[-1]
        proba = asr.predict_proba(pipe[:-1].transform(X_test))
        greedy = word_error_rate(y_test, pipe.predict(X_test))
        decoder = build_ctcdecoder(list(asr.vocabulary_))
        print("\n| decoder (chars) | WER |\n| --- | --- |")
        print(f"| greedy | {greedy:.3f} |")
        for width in (10, 50):
            beams = [" ".join(decoder.decode(np.log(p + 1e-12), beam_width=width).split())
                     for p in proba]
            print(f"| pyctcdecode beam {width} (no LM) | {word_error_rate(y_test, beams):.3f} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
