"""``avemo prepare`` (a corpus folder -> a manifest) and ``avemo extract`` (features into the cache)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from avemo.cli.arguments import DATA_HELP
from avemo.data.recipes import corpus_names


def register(subparsers) -> None:
    """Add ``prepare`` and ``extract`` to the ``avemo`` command's subparsers."""
    s = subparsers.add_parser("prepare", help="turn a corpus folder into a JSON-lines manifest",
                              description="Scan a corpus folder and write one line per recording "
                              "(path, corpus, speaker, emotion, attributes).")
    s.add_argument("corpus", choices=corpus_names(), help="corpus recipe; 'folder' reads <root>/<emotion>/<file>")
    s.add_argument("data", help=DATA_HELP)
    s.add_argument("-o", "--output", default=None, help="manifest to write (default: <corpus>.jsonl)")
    s.add_argument("--song", action="store_true", help="RAVDESS: include the song recordings too")
    s.add_argument("--speaker-pattern", help="folder recipe: regex whose first group is the speaker id")
    s.set_defaults(func=cmd_prepare)

    s = subparsers.add_parser("extract", help="extract features into the cache (so benchmarks skip extraction)",
                              description="Compute features of every recording of a corpus and store them in the "
                              "feature cache, keyed by file content and extractor settings.")
    s.add_argument("features", nargs="+", help="extractor names: logmel mfcc chroma egemaps egemaps_lld whisper")
    s.add_argument("--data", required=True, help=DATA_HELP)
    s.add_argument("--corpus", default="ravdess", help="corpus recipe (default ravdess)")
    s.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    s.add_argument("--cache", default="default", help="cache folder (default $AVEMO_CACHE or ~/.cache/avemo)")
    s.add_argument("--report", default=None, metavar="DIR",
                   help="also write the seconds per extractor to DIR/summary.json (e.g. reports/extraction)")
    s.set_defaults(func=cmd_extract)


def cmd_prepare(args) -> int:
    """``avemo prepare CORPUS DATA``: write the manifest and print its counts."""
    from avemo.data.recipes import prepare

    options = {}
    if args.corpus == "ravdess" and args.song:
        options["vocal_channels"] = ("speech", "song")
    if args.corpus == "folder" and args.speaker_pattern:
        options["speaker_pattern"] = args.speaker_pattern
    out = args.output or f"{args.corpus}.jsonl"
    recs = prepare(args.corpus, args.data, out, **options)
    speakers = len({r.speaker for r in recs})
    counts = {}
    for r in recs:
        counts[r.emotion] = counts.get(r.emotion, 0) + 1
    print(f"wrote {out}: {len(recs)} recordings, {speakers} speakers, {counts}")
    return 0


def cmd_extract(args) -> int:
    """``avemo extract FEATURES --data DIR``: fill the feature cache and print the seconds per extractor."""
    from avemo.data.recipes import prepare
    from avemo.features.store import FeatureStore, extract_all

    recs = prepare(args.corpus, args.data)
    cache = None if args.cache == "none" else args.cache
    explicit = cache not in (None, "default")
    cached_before = explicit and any(Path(cache).glob("**/*.npy"))
    _, seconds = extract_all(recs, args.features, FeatureStore(cache), args.jobs)
    for name, sec in seconds.items():
        print(f"{name}: {len(recs)} files in {sec:.1f} s")
    if args.report:
        import platform

        out = Path(args.report)
        out.mkdir(parents=True, exist_ok=True)
        report = {"benchmark": "extraction", "corpus": args.corpus, "n_files": len(recs), "jobs": args.jobs,
                  "seconds": seconds, "total_seconds": round(sum(seconds.values()), 1),
                  "cache_was_empty": (not cached_before) if explicit else None,
                  "machine": {"processor": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
                              "python": platform.python_version()}}
        (out / "summary.json").write_text(json.dumps(report, indent=1))
        print(f"wrote {out / 'summary.json'}")
    return 0
