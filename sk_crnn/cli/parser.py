"""The argument parser of ``sk-crnn``: its sub-commands and their options."""

import argparse

from .evaluate import evaluate_command
from .export import export_command
from .predict import predict_command, similar_command
from .safety import _MODEL_FILES, add_allow_pickle
from .stream import stream_command
from .tasks import TRAINABLE
from .train import demo_command, train_command


def _add_on_error(parser):
    parser.add_argument("--on-error", choices=["raise", "skip"], default="raise",
                        help="what to do with an audio file that cannot be read: stop with an "
                             "error (default), or skip it and list the skipped files on stderr")


def build_parser():
    """The argument parser of ``sk-crnn``."""
    parser = argparse.ArgumentParser(
        prog="sk-crnn", description="Convolutional recurrent neural networks for audio.",
        epilog=_MODEL_FILES)
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="grid-search a CRNN pipeline on generated audio",
                          epilog=_MODEL_FILES)
    demo.add_argument("--n-clips", type=int, default=400)
    demo.add_argument("--epochs", type=int, default=15)
    demo.add_argument("--n-jobs", type=int, default=1, help="parallel fits of the grid search")
    demo.add_argument("--random-state", type=int, default=0)
    demo.add_argument("--out", default="sk_crnn_demo.skcrnn",
                      help="where to save the model (.skcrnn; a .joblib suffix writes a pickle)")
    demo.add_argument("--quiet", action="store_true")
    demo.set_defaults(func=demo_command)

    train = sub.add_parser("train", help="train on a folder with one sub-folder per class",
                           epilog=_MODEL_FILES)
    train.add_argument("data_dir", help="a folder with one sub-folder of audio files per "
                       "class, or with --task transcribe a transcript manifest (CSV/TSV)")
    train.add_argument("--task", choices=list(TRAINABLE), default="classify",
                       help="classify: a CRNNClassifier of the folder labels; embed: a "
                            "CRNNEmbedder whose embeddings put clips of one label together "
                            "(for 'sk-crnn similar'); transcribe: a CRNNTranscriber (speech "
                            "recognition), DATA_DIR being then a manifest: a CSV/TSV file "
                            "with a header naming the columns path and transcript (or "
                            "sentence, as Common Voice's .tsv files)")
    train.add_argument("--out", required=True,
                       help="model file to write (.skcrnn; a .joblib suffix writes a pickle); "
                            "its folder must exist. An existing file is replaced only once "
                            "training has finished")
    train.add_argument("--sr", type=float, default=16000)
    train.add_argument("--n-mels", type=int, default=64)
    train.add_argument("--n-fft", type=int, default=512)
    train.add_argument("--hop-length", type=int, default=160)
    train.add_argument("--epochs", type=int, default=20)
    train.add_argument("--device", default="cpu")
    train.add_argument("--cv", type=int, default=0, help="K-fold cross-validation score")
    train.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                       help="any Pipeline parameter, e.g. crnnclassifier__lr=0.003")
    train.add_argument("--random-state", type=int, default=0)
    _add_on_error(train)
    train.add_argument("--quiet", action="store_true")
    train.set_defaults(func=train_command)

    predict = sub.add_parser("predict", help="label audio files with a trained model",
                             epilog=_MODEL_FILES)
    predict.add_argument("model")
    predict.add_argument("inputs", nargs="+", metavar="FILE_OR_DIR")
    predict.add_argument("--proba", action="store_true", help="add class probabilities")
    predict.add_argument("--format", choices=["table", "csv", "json"], default="table")
    _add_on_error(predict)
    add_allow_pickle(predict)
    predict.add_argument("--quiet", action="store_true")
    predict.set_defaults(func=predict_command)

    evaluate = sub.add_parser("evaluate", help="score a model on a class-per-folder tree",
                              epilog=_MODEL_FILES)
    evaluate.add_argument("model")
    evaluate.add_argument("data_dir")
    evaluate.add_argument("--report", metavar="DIR",
                          help="write report.txt, report.json and confusion_matrix.png here")
    _add_on_error(evaluate)
    add_allow_pickle(evaluate)
    evaluate.add_argument("--quiet", action="store_true")
    evaluate.set_defaults(func=evaluate_command)

    similar = sub.add_parser("similar", help="the most similar files of a catalogue folder",
                             epilog=_MODEL_FILES)
    similar.add_argument("model", help="a model with embeddings ('sk-crnn train --task embed')")
    similar.add_argument("queries", nargs="+", metavar="QUERY_FILE_OR_DIR")
    similar.add_argument("--catalogue", required=True, metavar="DIR",
                         help="folder of audio files to search (searched recursively)")
    similar.add_argument("-k", type=int, default=10, help="neighbours per query")
    similar.add_argument("--format", choices=["table", "csv", "json"], default="table")
    _add_on_error(similar)
    add_allow_pickle(similar)
    similar.add_argument("--quiet", action="store_true")
    similar.set_defaults(func=similar_command)
    _add_stream(sub)
    _add_export(sub)
    return parser


def _add_stream(sub):
    stream = sub.add_parser(
        "stream", epilog=_MODEL_FILES,
        help="run a causal model on audio as it comes in: print events, text or "
             "probabilities as they become final",
        description="Run a model fitted with a causal network (module__causal=True) and "
                    "MelSpectrogramTransformer(top_db=None) on a stream of audio: an event "
                    "detector prints each event once it has finished (onset, offset, label), "
                    "a classifier the class probabilities of the audio so far, a transcriber "
                    "its text as it becomes final.")
    stream.add_argument("model")
    stream.add_argument("input", metavar="FILE_OR_-",
                        help="an audio file, or - to read raw mono PCM from standard input at "
                             "the model's sample rate (see --pcm)")
    stream.add_argument("--pcm", choices=["s16le", "f32le"], default="s16le",
                        help="sample format of standard input, little-endian: 16-bit signed "
                             "integers (default; 'arecord -f S16_LE -c 1 -r SR' or 'ffmpeg -i "
                             "IN -f s16le -ac 1 -ar SR -' write it) or 32-bit floats")
    stream.add_argument("--chunk-ms", type=float, default=100.0,
                        help="milliseconds of audio per chunk given to the model (default 100)")
    stream.add_argument("--realtime", action="store_true",
                        help="read a file at the pace of its audio, as a live source would "
                             "deliver it (default: as fast as possible)")
    stream.add_argument("--interval", type=float, default=1.0,
                        help="classifier and regressor: seconds of audio between two printed "
                             "rows (default 1; a last row at the end)")
    stream.add_argument("--format", choices=["text", "jsonl"], default="text",
                        help="text: tab-separated lines (a transcript as it comes); jsonl: one "
                             "JSON object per line")
    add_allow_pickle(stream)
    stream.set_defaults(func=stream_command)


def _add_export(sub):
    export = sub.add_parser(
        "export", epilog=_MODEL_FILES,
        help="write a saved model as one ONNX graph, from raw waveform to outputs",
        description="Write a saved model as one ONNX graph (needs the onnx extra: pip "
                    "install 'sk-crnn[onnx]'): float32 waveforms (batch, samples) at the "
                    "model's sample rate in, what predict_proba / transform compute out, and "
                    "metadata (task, classes, vocabulary, thresholds) to read them with "
                    "sk_crnn.export's numpy helpers or any onnxruntime.")
    export.add_argument("model")
    export.add_argument("--out", required=True,
                        help="the .onnx file to write; an existing file is replaced only once "
                             "the graph is complete")
    export.add_argument("--any-length", action="store_true",
                        help="event detectors and transcribers: keep every frame of an input "
                             "of any length (default: pad or crop to the fitted length, as "
                             "the model does)")
    export.add_argument("--opset", type=int, default=None,
                        help="ONNX opset, 13 to 20 (default 17)")
    add_allow_pickle(export)
    export.add_argument("--quiet", action="store_true")
    export.set_defaults(func=export_command)
