"""The Ray engine of batch runs (``avemo predict … --output T --engine ray``): the file list as a Ray Dataset,
predicted with ``map_batches`` over an actor pool (each actor loads the models once), on a local Ray started
here or on the cluster at ``address``.

Rows travel back as JSON text (their probability columns differ between audio and image inputs), so the driver
writes the same parts, and the same final table, as the local engine. Ray is an optional extra
(``pip install 'avemo[ray]'``).
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Iterator, Sequence

from avemo.errors import ParameterError


def _ray():
    try:
        import ray
        import ray.data  # noqa: F401  (the Data library: ray[data])
    except ImportError:
        raise ParameterError("--engine ray needs Ray Data: pip install 'avemo[ray]' (or use the default "
                             "--engine local)") from None
    return ray


class ChunkPredictor:
    """The callable class of the actor pool: one engine per actor, for the modalities of the whole run."""

    def __init__(self, settings: Any, modalities_of: Sequence[str]) -> None:
        from avemo.batch.run import one_thread

        one_thread()
        self.settings, self.modalities_of = settings, list(modalities_of)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        from avemo.batch.run import predict_chunk

        if "chunk" in batch:  # whole units of work (a speaker's files)
            rows = [row for chunk in batch["chunk"] for row in predict_chunk(self.settings, self.modalities_of,
                                                                               json.loads(chunk))]
        else:
            rows = predict_chunk(self.settings, self.modalities_of, [str(p) for p in batch["path"]])
        return {"row": [json.dumps(r) for r in rows]}


def start_ray(address: str | None, workers: int) -> Any:
    """Join the cluster at ``address``, or start Ray on this machine with ``workers`` CPUs (quiet: no dashboard,
    no Ray progress bars; the run has its own)."""
    ray = _ray()
    if not ray.is_initialized():
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                   "ignore_reinit_error": True, "configure_logging": False}
        if address:
            options["address"] = address
        else:
            options["num_cpus"] = max(workers, 1)
        # the workers find the avemo of this interpreter (an editable install or a source checkout alike)
        options["runtime_env"] = {"env_vars": {"OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}}
        try:
            ray.init(**options)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = f"the Ray cluster at {address}" if address else "a local Ray"
            raise ParameterError(f"could not start {where} ({' '.join(str(exc).split())[:200]}); check --address "
                                 "or use --engine local") from None
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    return ray


def predict_chunks_on_ray(settings: Any, modalities_of: Sequence[str], chunks: Sequence[Sequence[str]], workers: int,
                          address: str | None = None) -> Iterator[list[dict[str, Any]]]:
    """The rows of ``chunks`` (lists of paths), one list per finished batch, in completion order. Plain runs give
    Ray the file list (one row per path, ``map_batches`` in batches of the chunk size); speaker-grouped runs give
    it one row per speaker's chunk."""
    ray = start_ray(address, workers)
    if getattr(settings, "speaker_key", None):
        items, batch_size = [{"chunk": json.dumps(list(c))} for c in chunks], 1
    else:
        items, batch_size = [{"path": p} for c in chunks for p in c], max(len(c) for c in chunks)
    dataset = ray.data.from_items(items, override_num_blocks=max(1, -(-len(items) // batch_size)))
    predicted = dataset.map_batches(ChunkPredictor, fn_constructor_args=(settings, list(modalities_of)),
                                    batch_size=batch_size, compute=ray.data.ActorPoolStrategy(size=workers),
                                    num_cpus=1, batch_format="numpy")
    for batch in predicted.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=0):
        yield [json.loads(text) for text in batch["row"]]


def shutdown_ray() -> None:
    """Stop the local Ray this process started (a joined cluster is left running)."""
    if os.environ.get("AVEMO_KEEP_RAY"):
        return
    import ray

    if ray.is_initialized():
        ray.shutdown()
