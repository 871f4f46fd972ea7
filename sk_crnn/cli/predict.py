"""``sk-crnn predict`` (labels, events or transcripts of audio files) and ``sk-crnn similar``
(the files of a catalogue folder most similar to each query).

A file longer than the model's training clips is predicted over all of its length by its
task's long-recording predictor (:mod:`sk_crnn.cli.tasks`): a classifier averages its windows
and an event detector stitches them (``sk_crnn.windows``, reading a long file in blocks); a
transcriber cuts it at pauses and joins the transcripts of the pieces
(:func:`sk_crnn.long_transcripts.transcribe_long`).
"""

from .common import UserError, _check_positive, _write_rows
from .inputs import _collect_files, _loader_audio, _predict_audio, _show_progress
from .rows import Job
from .safety import _load_model
from .tasks import task_of


def predict_command(args):
    """Run ``sk-crnn predict``; return the exit code."""
    model = _load_model(args.model, args.allow_pickle)
    if not hasattr(model, "predict"):
        name = type(model.steps[-1][1]).__name__
        if hasattr(model, "transform"):  # an embedder: its outputs are for 'similar'
            raise UserError(
                f"{args.model!r} holds a {name}, which gives embeddings, not labels: "
                f"'sk-crnn predict' has nothing to print for it. Find the files of a folder "
                f"most similar to yours with 'sk-crnn similar {args.model} FILE_OR_DIR "
                "--catalogue DIR'.")
        raise UserError(f"{args.model!r} holds a {name}, which does not predict.")
    files = _collect_files(args.inputs)
    task = task_of(model.steps[-1][1])
    if args.proba and not task.allows_proba(model.steps[-1][1]):
        raise UserError(task.no_proba)
    _show_progress(model, args.quiet)
    waves, files = _predict_audio(model, files, args, stream=task.stream)
    window = model.steps[1][1].n_samples_  # longer files are predicted over windows
    long = [i for i, wave in enumerate(waves) if isinstance(wave, str) or len(wave) > window]
    short = sorted(set(range(len(waves))) - set(long))
    rows, keys, code = task.rows(Job(model, waves, files, long, short, window,
                                     task.long_predictor(), args))
    _write_rows(rows, args.format, keys=keys)
    return code


def similar_command(args):
    """Run ``sk-crnn similar``; return the exit code."""
    from ..retrieval import SimilarityIndex

    model = _load_model(args.model, args.allow_pickle)
    _check_positive(args.k, "-k")
    if not hasattr(model, "transform"):
        raise UserError(f"{args.model} holds a {type(model.steps[-1][1]).__name__}, which gives "
                        "no embeddings; train one with 'sk-crnn train --task embed'.")
    _show_progress(model, args.quiet)
    catalogue, catalogue_files = _loader_audio(model, _collect_files([args.catalogue]), args)
    queries, query_files = _loader_audio(model, _collect_files(args.queries), args)
    index = SimilarityIndex(model[1:]).fit(catalogue, ids=catalogue_files)
    distances, ids = index.kneighbors(queries, n_neighbors=min(args.k, len(catalogue_files)))
    rows = [{"query": query, "rank": rank + 1, "path": str(path),
             "similarity": round(1.0 - float(distance), 4)}
            for query, row_ids, row_dist in zip(query_files, ids, distances)
            for rank, (path, distance) in enumerate(zip(row_ids, row_dist))]
    _write_rows(rows, args.format, keys=["query", "rank", "path", "similarity"])
    return 0
