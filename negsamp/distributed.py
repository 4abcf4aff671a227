"""Run generation as (method x sample-shard) tasks on a Ray cluster (`--ray`).

    driver: samples ─► per method: open run, pending ids ─► shards ─► Ray tasks
    worker: load the model once per process ─► generate the shard's pending batches ─► return rows
    driver: as each task finishes, append its new rows to the run store (the only writer)

Why the driver writes and the workers return rows: the run store stays one
append-only file per run, exactly as a single-process build leaves it, so every
tool that reads a store (resume, `build` re-mining, checks) works unchanged, and
the cluster needs no shared storage. A worker killed mid-shard returns nothing;
Ray re-runs the task (`MAX_RETRIES`), and the driver appends only ids it does not
hold yet, so a shard's rows land once, whole, or not at all.

Same dataset as a single-process build: a shard is a run of whole fixed batches
(it starts at a multiple of `batch_size`), so every sample is generated with the
same batch companions and padding (`negsamp.runner.fixed_batches`); the dataset is
assembled from the store by sample id, so the order in which shards finish does
not matter. Resuming: shards whose samples are all stored are not submitted, and
a partly stored shard generates only its batches that still miss a row.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from negsamp.errors import NegsampError
from negsamp.records import Prediction, Sample

RAY_EXTRA = "pip install 'negsamp[ray]'"
MAX_RETRIES = 3
"""Times Ray re-runs a shard whose worker died (killed, out of memory, node lost)."""
TASKS_PER_SLOT = 4
"""Default sharding aims at this many tasks per GPU (or CPU) so that uneven shards balance out."""
MAX_SHARD_BATCHES = 32
"""Default shard size cap: bounds the work a killed worker loses."""


class RayUnavailable(NegsampError):
    """`--ray` was asked for but Ray is not installed."""


def require_ray():
    """The `ray` module, or one line naming the extra to install."""
    try:
        import ray
    except ImportError as err:
        raise RayUnavailable(f"--ray needs Ray, which is not installed: {RAY_EXTRA}") from err
    return ray


@dataclass(frozen=True)
class RayOptions:
    """Where and how to fan a run out on Ray."""

    address: str | None = None
    """Cluster address (`auto`, `HOST:6379`, `ray://HOST:10001`); None: RAY_ADDRESS or a new local cluster."""
    shard_batches: int | None = None
    """Batches per shard; None: about `TASKS_PER_SLOT` tasks per slot, at most `MAX_SHARD_BATCHES`."""


@dataclass(frozen=True)
class ShardJob:
    """One task: the pending samples of one shard of one method's run."""

    model: str
    method: str
    start: int
    """Index of the shard's first sample in the full list (a multiple of batch_size)."""
    samples: tuple[Sample, ...]
    pending: frozenset[str]
    batch_size: int
    device: str
    """`cuda` (the task's GPU) or `cpu`."""
    dtype: str


@dataclass
class ShardedRun:
    """What `run_methods_on_ray` did for one method."""

    result: object
    """The `negsamp.runner.RunResult`: every prediction in sample order."""
    shards: int
    """Shards the sample list is cut into."""
    shards_run: int
    """Shards that still missed rows and were sent to the cluster."""


def plan_shards(samples: Sequence[Sample], pending: set[str], batch_size: int,
                shard_batches: int) -> list[tuple[int, int]]:
    """(start, stop) of every shard holding a pending sample; starts are multiples of batch_size."""
    size = batch_size * shard_batches
    return [(start, min(start + size, len(samples))) for start in range(0, len(samples), size)
            if any(s.sample_id in pending for s in samples[start:start + size])]


def default_shard_batches(total_batches: int, slots: int) -> int:
    return max(1, min(MAX_SHARD_BATCHES, math.ceil(total_batches / (TASKS_PER_SLOT * max(1, slots)))))


class _WorkerPool:
    """One `ModelPool` per worker process, kept across tasks so a reused worker loads its model once."""

    key: tuple | None = None
    pool = None

    @classmethod
    def get(cls, job: ShardJob):
        key = (job.model, job.device, job.dtype)
        if cls.key != key:
            from negsamp.runner import ModelPool

            cls.key, cls.pool = None, None  # free the previous model before loading the next
            cls.pool, cls.key = ModelPool(job.model, device=job.device, dtype=job.dtype), key
        return cls.pool


def run_shard(job: ShardJob) -> list[Prediction]:
    """Worker side: generate the shard's batches that hold a pending sample; return the pending rows."""
    from negsamp.methods import parse_method
    from negsamp.runner import fixed_batches, generate_missing

    method = parse_method(job.method)
    model, tokenizer = _WorkerPool.get(job).get(method.attn_implementation)
    pending = set(job.pending)
    rows: list[Prediction] = []
    for batch in fixed_batches(job.samples, job.batch_size, pending):
        rows.extend(generate_missing(model, tokenizer, method, batch, pending,
                                     model_name=job.model, batch_size=job.batch_size))
    return rows


def _task_options(ray, device: str) -> tuple[dict, int, str]:
    """Task resources (one GPU per task where the cluster has GPUs and `device` allows, else one CPU),
    how many tasks fit at once, and the device the workers load the model on."""
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    if device.startswith("cuda") and not gpus:
        raise NegsampError(f"device={device!r} asked for, but the Ray cluster has no GPU")
    if gpus and device != "cpu":
        # max_calls=0: keep the worker (and its loaded model) for the next shard; Ray's
        # default for GPU tasks would start a fresh process and reload the model each time.
        # Inside a task, Ray makes the task's GPU the only visible one: `cuda`.
        return {"num_gpus": 1, "num_cpus": 1, "max_calls": 0, "max_retries": MAX_RETRIES}, gpus, "cuda"
    return {"num_cpus": 1, "max_retries": MAX_RETRIES}, max(1, int(resources.get("CPU", 1))), "cpu"


def _worker_setting(device: str, dtype: str, attn: str | None) -> dict[str, str]:
    """What `ModelPool.setting` reports in a worker on `device`, for the run's manifest (resolved
    here, where that device may be absent)."""
    import torch

    from negsamp.models import resolve_attention, resolve_dtype

    where = torch.device(device)
    return {"device": where.type, "dtype": str(resolve_dtype(dtype, where)).removeprefix("torch."),
            "attention": resolve_attention(where, attn)}


@contextlib.contextmanager
def connected(options: RayOptions) -> Iterator[object]:
    """The `ray` module, connected; a cluster this call started (or joined) is left on exit."""
    ray = require_ray()
    if ray.is_initialized():  # the caller (e.g. a test) set the cluster up
        yield ray
        return
    ray.init(address=options.address or None, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def run_methods_on_ray(store, model_name: str, methods: Sequence, samples: Sequence[Sample], *,
                       batch_size: int, device: str = "auto", dtype: str = "auto",
                       options: RayOptions = RayOptions(), progress: bool = True) -> dict[str, ShardedRun]:
    """Every method's run over `samples`, generated as shards on Ray and appended to `store`.

    `methods` are parsed methods; `store` a `negsamp.runs.RunStore` on the driver's disk.
    Returns, per method spec, its result and how many shards were (re)run. The driver holds
    every run's lock (`negsamp.runlock`) until the last shard has landed.
    """
    from negsamp.runlock import run_lock
    from negsamp.runner import RunResult, check_unique, record_request

    check_unique(samples)
    store.record_samples(samples)  # so `negsamp score` can join answers to these runs later
    methods = list({m.spec: m for m in methods}.values())  # a method named twice runs once
    with connected(options) as ray, contextlib.ExitStack() as locks:
        task_options, slots, kind = _task_options(ray, device)
        opened = {}
        for m in methods:
            run = store.run(model_name, m.spec)
            locks.enter_context(run_lock(run.directory))
            setting = _worker_setting(kind, dtype, m.attn_implementation)
            opened[m.spec] = run, record_request(run, samples, batch_size=batch_size, setting=setting)
        total_batches = math.ceil(len(samples) / batch_size) * len(methods)
        shard_batches = options.shard_batches or default_shard_batches(total_batches, slots)
        task = ray.remote(run_shard).options(**task_options)
        jobs: dict[object, ShardJob] = {}
        shards_run: dict[str, int] = {}
        for method in methods:
            pending = {s.sample_id for s in samples} - opened[method.spec][1].keys()
            plan = plan_shards(samples, pending, batch_size, shard_batches)
            shards_run[method.spec] = len(plan)
            for start, stop in plan:
                part = tuple(samples[start:stop])
                job = ShardJob(model_name, method.spec, start, part,
                               frozenset(s.sample_id for s in part if s.sample_id in pending), batch_size,
                               kind, dtype)
                jobs[task.remote(job)] = job
        generated = _collect(ray, jobs, opened, progress)
    shards = math.ceil(len(samples) / (batch_size * shard_batches))
    out = {}
    for spec, (run, stored) in opened.items():
        missing = [s.sample_id for s in samples if s.sample_id not in stored]
        if missing:
            raise NegsampError(f"method {spec!r}: {len(missing)} sample(s) got no row from the cluster, "
                               f"e.g. {missing[0]}")
        result = RunResult(run=run, generated=generated.get(spec, 0),
                           predictions=[stored[s.sample_id] for s in samples])
        out[spec] = ShardedRun(result=result, shards=shards, shards_run=shards_run[spec])
    return out


def _collect(ray, jobs: dict, opened: dict, progress: bool) -> dict[str, int]:
    """Append each finished shard's new rows to its run; raise the first failure once all have ended.

    Finished shards are stored even when another one failed, so a re-run resumes
    from everything that was done. Returns the rows appended per method spec.
    """
    from tqdm.auto import tqdm

    failures: list[NegsampError] = []
    appended: dict[str, int] = {}
    total = sum(len(job.pending) for job in jobs.values())
    with tqdm(total=total, desc="ray", unit="sample", disable=not progress) as bar:
        waiting = list(jobs)
        while waiting:
            done, waiting = ray.wait(waiting, num_returns=1)
            job = jobs.pop(done[0])
            try:
                rows = ray.get(done[0])
            except Exception as err:  # any task failure: reported below, after the other shards end
                failures.append(_explain(ray, job, err))
                continue
            run, stored = opened[job.method]
            new = [p for p in rows if p.sample_id in job.pending and p.sample_id not in stored]
            run.append(new)
            stored.update((p.sample_id, p) for p in new)
            appended[job.method] = appended.get(job.method, 0) + len(new)
            bar.update(len(new))
    if failures:
        raise failures[0]
    return appended


def _explain(ray, job: ShardJob, err: Exception) -> NegsampError:
    """One line for a failed shard: the worker's own input error, or what killed the task."""
    cause = getattr(err, "cause", None)
    if isinstance(err, ray.exceptions.RayTaskError) and isinstance(cause, NegsampError):
        return cause
    where = f"method {job.method!r}, samples {job.start}-{job.start + len(job.samples) - 1}"
    if isinstance(err, ray.exceptions.WorkerCrashedError | ray.exceptions.NodeDiedError):
        return NegsampError(f"{where}: the worker died {MAX_RETRIES + 1} times; finished shards are "
                            "stored, run again to resume")
    detail = f"{type(cause).__name__}: {cause}" if cause is not None else f"{type(err).__name__}: {err}"
    return NegsampError(f"{where}: {detail.splitlines()[0] if detail else type(err).__name__}")
