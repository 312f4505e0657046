"""``avemo predict``: audio files, images and videos one by one, a fused photo + voice pair, audio with OpenFace
action units, or a resumable batch run (``--output``)."""

from __future__ import annotations

import json
import sys

from avemo.cli.arguments import add_model_arguments
from avemo.cli.output import one_line, result_text
from avemo.errors import AvemoError, ParameterError


def register(subparsers) -> None:
    """Add ``predict`` to the ``avemo`` command's subparsers."""
    s = subparsers.add_parser(
        "predict", help="predict the emotion of audio files, images and videos",
        description="Print the top emotion and every class probability of each file. Audio: the speech model "
        "(inputs longer than --window also get a timeline). Images: every face, with its box. Videos: the faces of "
        "the frames (followed across frames, pooled per face, plus a per-frame timeline) and, when the video has an "
        "audio track, the speech model on it and the fused audio-visual result.")
    s.add_argument("files", nargs="*", help="wav/flac/mp3/ogg/m4a audio, jpg/png images or mp4/mkv/webm videos")
    s.add_argument("--output", metavar="FILE",
                   help="batch mode: write one row per input to FILE (.parquet, .jsonl or .csv); the arguments may "
                   "be folders (walked recursively) and manifests (.jsonl / .csv with a path column); re-running "
                   "the same command resumes where it stopped")
    s.add_argument("--workers", type=int, default=1, help="batch mode: worker processes, each with its own models")
    s.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="batch mode: local = processes on this machine (default); ray = Ray Data over an actor pool "
                   "(pip install 'avemo[ray]'; local Ray unless --address)")
    s.add_argument("--address", default=None, help="batch mode, --engine ray: the Ray cluster to join (ray://… or "
                   "host:port; default: start Ray on this machine)")
    s.add_argument("--batch-size", type=int, default=16, help="batch mode: files per batch (default 16)")
    s.add_argument("--speaker-key", metavar="KEY",
                   help="per-person adaptation: group the files by person (KEY: 'folder' = the file's folder, "
                   "'folder2' = the one above, or a regular expression on the file name whose first group is the "
                   "person); each person's files (unlabelled) adapt the models to them: a multi-corpus speech model "
                   "to their voice, the face model to their face (images, videos), the --openface model to both "
                   "(2+ files per person; a person seen once gets the global model)")
    s.add_argument("--adapt-for", choices=["any", "varied"], default="any",
                   help="with --speaker-key: any = the adaptation that is safe with few files or one emotion per "
                   "speaker (default); varied = the one chosen for speakers whose files span several emotions (an "
                   "acted corpus, a session with a range of emotions)")
    s.add_argument("--image", help="a photo of a face, fused with --audio (a voice recording of the same person)")
    s.add_argument("--audio", help="a voice recording fused with --image")
    add_model_arguments(s)
    s.add_argument("--modality", choices=["auto", "speech", "face"], default="auto",
                   help="auto: by file type (videos use both); speech: audio track only; face: frames only")
    s.add_argument("--fps", type=float, default=None, help="video frames analysed per second (default 5)")
    s.add_argument("--format", choices=["text", "json"], default="text", help="json: one object per line")
    s.add_argument("--window", type=float, default=4.0, help="timeline window in seconds (default 4)")
    s.add_argument("--step", type=float, default=2.0, help="timeline hop in seconds (default 2)")
    s.add_argument("--openface", nargs="+", metavar="CSV",
                   help="OpenFace 2.0 FeatureExtraction CSV for each input file, in the same order; uses the "
                   "shipped speech+action-unit fusion model (or the av-late-fusion model folder given by --model)")
    s.set_defaults(func=cmd_predict)


def cmd_predict(args) -> int:
    """``avemo predict FILES``: print each file's result; exit status 1 when any file failed."""
    if args.adapt_for != "any" and not args.speaker_key:
        raise ParameterError("--adapt-for chooses how a speaker's files adapt the model; give --speaker-key too")
    if args.image or args.audio:
        return _predict_pair(args)
    if not args.files:
        raise ParameterError("give the files to predict, or --image FACE.jpg --audio VOICE.wav for a fused pair")
    if args.output:
        return _predict_batch(args)
    if args.openface:
        return _predict_openface(args)
    from avemo.inference.engine import InferenceEngine, PredictOptions, needed_modalities

    options = PredictOptions(args.modality, args.fps, args.window, args.step)
    engine = InferenceEngine(args.model, args.face_model, modalities=needed_modalities(args.files, args.modality),
                             options=options)
    if args.speaker_key:
        from avemo.inference.adaptation import predict_files_by_speaker

        predictions = predict_files_by_speaker(engine, args.files, args.speaker_key, options,
                                               adapt_for=args.adapt_for)
    else:
        predictions = engine.predict_files(args.files)
    return _print_results((({"path": path}, result) for path, result in predictions), len(args.files), args.format)


def _print_results(rows, n_files: int, output_format: str) -> int:
    """Print each ``(fields, result or error)`` row of ``rows`` (``fields``: the input's ``path`` and any other
    input file) as text or JSON; errors go to stderr as text, to stdout as JSON. Returns the exit status: 1 when any
    failed."""
    failed = 0
    for fields, result in rows:
        if isinstance(result, AvemoError):
            failed += 1
            if output_format == "json":
                print(json.dumps({**fields, "error": one_line(result)}))
            else:
                print(f"{' + '.join(fields.values())}: error: {one_line(result)}", file=sys.stderr)
            continue
        print(json.dumps(result.to_dict()) if output_format == "json" else result_text(result))
    if failed:
        print(f"avemo: {failed} of {n_files} file(s) failed", file=sys.stderr)
    return 1 if failed else 0


def _predict_openface(args) -> int:
    """``avemo predict AUDIO... --openface CSV...``: audio + OpenFace action units, fused by the speech +
    action-unit model."""
    from avemo.inference.openface import OpenFaceRecognizer

    if len(args.openface) != len(args.files):
        raise ParameterError(f"--openface got {len(args.openface)} CSV file(s) for {len(args.files)} input "
                             "file(s); give one OpenFace CSV per input file, in the same order")
    av = OpenFaceRecognizer(args.model, window=args.window, step=args.step)
    rows = (({"path": path, "openface": csv}, result)
            for path, csv, result in _openface_results(av, args.files, args.openface, args.speaker_key))
    return _print_results(rows, len(args.files), args.format)


def _openface_results(av, files: list[str], csvs: list[str], speaker_key: str | None):
    """``(audio, csv, result or error)`` of each pair: one at a time, or with ``speaker_key`` adapted to each
    person (the pairs grouped by the key matched in the audio file's name, else the CSV's)."""
    pairs = list(zip(files, csvs))
    if not speaker_key:
        for audio, csv in pairs:
            try:
                yield audio, csv, av.predict(audio, csv)
            except AvemoError as exc:
                yield audio, csv, exc
        return
    from avemo.inference.adaptation import speaker_of, warn_about_groups

    people: dict[int, str] = {}
    errors: dict[int, AvemoError] = {}
    for i, (audio, csv) in enumerate(pairs):
        try:
            people[i] = speaker_of(audio, speaker_key)
        except AvemoError as exc:
            try:
                people[i] = speaker_of(csv, speaker_key)
            except AvemoError:
                errors[i] = exc
    if errors:
        warn_about_groups(list(people.values()), len(errors))
    done = dict(zip(people, av.predict_people([pairs[i] for i in people], list(people.values())))) if people else {}
    for i, (audio, csv) in enumerate(pairs):
        yield audio, csv, errors.get(i) or done[i]


def _predict_batch(args) -> int:
    """``avemo predict DIR_OR_MANIFEST ... --output results.parquet``: a resumable batch run."""
    from avemo.batch.run import BatchSettings, run_batch, summary_line

    if args.openface:
        raise ParameterError("--output does not combine with --openface; run those files without --output")
    settings = BatchSettings(args.model, args.face_model, args.modality, args.fps, args.window, args.step,
                             args.speaker_key, args.adapt_for)
    summary = run_batch(args.files, args.output, settings, workers=args.workers, chunk_size=args.batch_size,
                        engine=args.engine, address=args.address)
    print(summary_line(summary), file=sys.stderr)
    return 1 if summary["failed"] else 0


def _predict_pair(args) -> int:
    """``avemo predict --image face.jpg --audio voice.wav``: one photo and one voice recording, fused."""
    from avemo.inference.engine import InferenceEngine, PredictOptions

    if not (args.image and args.audio):
        raise ParameterError("--image and --audio go together (a photo and a voice recording of one person); "
                             "give both, or give the files as arguments")
    if args.files or args.openface:
        raise ParameterError("--image/--audio predict one fused pair; give other files in a separate command")
    options = PredictOptions(args.modality, args.fps, args.window, args.step)
    engine = InferenceEngine(args.model, args.face_model, modalities=("speech", "face"), options=options)
    result = engine.predict_image_and_audio_files(args.image, args.audio, options)
    print(json.dumps(result.to_dict()) if args.format == "json" else result_text(result))
    return 0
