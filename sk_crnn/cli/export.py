"""``sk-crnn export``: a saved model as one ONNX graph, from raw waveform to outputs.

The graph is written by :func:`sk_crnn.export.export_onnx` (the model's leading
:class:`~sk_crnn.AudioLoader` is left out: the graph takes float32 waveforms of shape
``(batch, samples)`` at the model's sample rate). What it outputs, and the metadata that says
how to read it, are printed once the file is written.
"""

import os

from .common import UserError, _check_out, _printer
from .safety import _load_model


def export_command(args):
    """Run ``sk-crnn export``; return the exit code."""
    out = args.out
    if not str(out).lower().endswith(".onnx"):
        raise UserError(f"--out {str(out)!r}: give a file name ending in .onnx, for example "
                        "'model.onnx'.")
    _check_out(out)
    try:  # before loading the model: name the missing extra at once
        import onnx  # noqa: F401
    except ImportError:
        raise UserError('exporting needs the onnx package: pip install "sk-crnn[onnx]"') \
            from None
    from ..export import export_onnx, onnx_metadata

    model = _load_model(args.model, args.allow_pickle)
    tmp = f"{out}.part"  # an existing file is replaced only by a complete graph
    try:
        export_onnx(model, tmp, any_length=args.any_length, opset=args.opset)
        meta = onnx_metadata(tmp)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    say = _printer(args.quiet)
    say(f"wrote {out}: a {meta['sk_crnn_task']} graph, input {meta['input']!r} "
        f"float32 (batch, samples) at {meta['sr']:g} Hz, output {meta['output']!r}")
    if meta.get("classes") is not None:
        say(f"classes: {', '.join(map(str, meta['classes']))}")
    if meta.get("any_length"):
        say("any length: every frame of an input of any length is kept")
    elif meta.get("n_samples") is not None:
        say(f"inputs are padded or cropped to {meta['n_samples']} samples, as the model does")
    return 0
