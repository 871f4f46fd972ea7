"""The order of the examples in the gallery (sphinx-gallery's ``within_subsection_order``).

``conf.py`` names the function by a string, which keeps the Sphinx configuration picklable.
Examples not listed here come last, by file name.
"""

ORDER = [
    "plot_spectrograms.py",
    "plot_training_curve.py",
    "plot_confusion_matrix.py",
    "plot_event_detection.py",
    "plot_transcription.py",
    "plot_embedding_map.py",
    "plot_onnx_export.py",
    "plot_streaming.py",
]


def example_order(filename):
    """Sort key of an example's file name: its position in :data:`ORDER`."""
    name = str(filename).replace("\\", "/").rsplit("/", 1)[-1]
    return (ORDER.index(name), "") if name in ORDER else (len(ORDER), name)
