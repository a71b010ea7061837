"""What `lucida caption --ray` and `lucida index --ray` share: reaching the cluster, sizing the
actor pool, streaming batches through it, and the per-worker rates the progress shows.

The driver (this process) keeps the catalog: it chooses the photos, and writes what comes back
one committed batch at a time, so a run killed at any point resumes without redoing committed
work. Ray Data runs an actor pool whose actors each load their models once (one GPU each where
the cluster has GPUs, else two CPUs each) and read the photos from storage every worker can
reach, at the paths the driver has. An actor whose process dies is restarted by Ray and its
batch run again.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from lucida.errors import LucidaError
from lucida.progress import Progress

LOCAL = "local"  # --ray without an address: a Ray cluster on this machine, for this run
# Per-worker rates are shown this often (seconds), and when the run ends.
RATE_EVERY_S = 30.0


@dataclass(frozen=True)
class RayRun:
    """Where and how wide: a Ray address (LOCAL, "auto", "ray://head:10001"), actors (None: one
    per GPU, else one per two CPUs), photos per batch, and the specs the workers load the
    describer (a captioner for `caption`) and the embedder from."""

    address: str
    describer: str
    prompt: str | None
    api_base: str | None
    embedder: str
    embedder_api_base: str | None
    actors: int | None = None
    batch_size: int = 4


@dataclass
class _WorkerRate:
    photos: int = 0
    seconds: float = 0.0


@dataclass
class WorkerRates:
    """Photos and busy seconds per worker, from the batches that came back."""

    workers: dict[str, _WorkerRate] = field(default_factory=lambda: defaultdict(_WorkerRate))
    _shown_at: float = field(default_factory=time.monotonic)

    def add(self, worker: str, photos: int, seconds: float) -> None:
        self.workers[worker].photos += photos
        self.workers[worker].seconds += seconds

    def lines(self) -> list[str]:
        return [
            f"worker {name}: {rate.photos} photos, {rate.photos / rate.seconds:.2f} photos/s"
            for name, rate in sorted(self.workers.items()) if rate.seconds > 0
        ]  # fmt: skip

    def show_now_and_then(self, progress: Progress) -> None:
        if time.monotonic() - self._shown_at > RATE_EVERY_S:
            self._shown_at = time.monotonic()
            self.show(progress)

    def show(self, progress: Progress) -> None:
        for line in self.lines():
            progress.note(line)


def import_ray(what: str):
    """The ray module, Ray Data imported; a LucidaError saying how to install it otherwise."""
    try:
        import ray
        import ray.data
    except ImportError as error:
        raise LucidaError(f"{what} on Ray needs Ray Data: pip install 'lucida[ray]'") from error
    return ray


def connect(ray, address: str) -> None:
    # Ray Data reports its plans and progress through logging; lucida's progress says what matters.
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if ray.is_initialized():
        return
    options = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    try:
        if address == LOCAL:
            ray.init(**options)
        else:
            ray.init(address=address, **options)
    except (ConnectionError, ValueError, RuntimeError) as error:
        raise LucidaError(f"cannot reach the Ray cluster at {address}: {str(error).splitlines()[0]}") from error


def actor_pool(ray, run: RayRun) -> tuple[int, dict]:
    """How many actors, and what each asks of the cluster: a GPU each where there are GPUs,
    otherwise an equal share of the CPUs."""
    gpus = int(ray.cluster_resources().get("GPU", 0))
    cpus = int(ray.cluster_resources().get("CPU", 1))
    actors = run.actors or gpus or max(1, cpus // 2)
    return actors, ({"num_gpus": 1} if gpus else {"num_cpus": max(1, cpus // actors)})


def through_actors(ray, rows: list[dict], actor: type, arguments: tuple, run: RayRun, actors: int, per_actor: dict) -> Iterator[dict]:
    """The batches `actor` (constructed once per actor with `arguments`, called on batches of
    `rows`) returns, as numpy columns, as soon as each is done."""
    ray.data.DataContext.get_current().enable_progress_bars = False
    # Small blocks: each batch of photos streams back (and commits) as soon as it is done.
    photos = ray.data.from_items(rows, override_num_blocks=max(1, -(-len(rows) // run.batch_size)))
    done = photos.map_batches(
        actor,
        fn_constructor_args=arguments,
        batch_size=run.batch_size,
        compute=ray.data.ActorPoolStrategy(size=actors),
        # Ray Data's own defaults for an actor pool (max_restarts and max_task_retries -1) start
        # a killed actor again and rerun its batch (the tests kill one).
        **per_actor,
    )
    return unwrapped(ray, lambda: iter(done.iter_batches(batch_size=None, batch_format="numpy")))


def unwrapped(ray, work):
    """`work()`, with a LucidaError raised on a worker (a model that is not there) re-raised here
    as itself, so the CLI prints its one line. An iterator is unwrapped item by item."""
    try:
        result = work()
    except ray.exceptions.RayError as error:
        _raise_lucida_cause(error)
        raise
    if isinstance(result, Iterator):
        return _unwrapped_items(ray, result)
    return result


def _unwrapped_items(ray, items: Iterator) -> Iterator:
    while True:
        try:
            item = next(items)
        except StopIteration:
            return
        except ray.exceptions.RayError as error:
            _raise_lucida_cause(error)
            raise
        yield item


def _raise_lucida_cause(error: Exception) -> None:
    cause = getattr(error, "cause", None)
    while cause is not None and not isinstance(cause, LucidaError):
        cause = getattr(cause, "cause", None) or cause.__cause__
    if isinstance(cause, LucidaError):
        raise LucidaError(str(cause)) from error
