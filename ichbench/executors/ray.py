"""Run the (model, fold) jobs as Ray tasks: on the GPUs of one machine, or on a Ray cluster.

Optional extra: pip install "ichbench[ray]". Each job asks for its resources (one GPU per job when
the run uses CUDA, fractions allowed); the data set goes into the object store once; progress
flows back to the driver through a Ray queue. A job whose worker dies is retried (bounded) and
resumes from its last checkpoint, so the run directory must be on storage every node can reach.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch

from ichbench.data.dataset import Dataset
from ichbench.errors import IchbenchError, RunError
from ichbench.progress import Reporter
from ichbench.rundir import JobResult
from ichbench.training.job import Job, JobContext, finished, run_job

MAX_RETRIES = 3


def _remote_job(job: Job, ctx: JobContext, dataset: Dataset, queue, threads: int) -> JobResult | None:
    """What one Ray worker does: run (or resume) the job with `threads` torch threads (the result records
    them), streaming epochs to the driver."""
    torch.set_num_threads(max(1, threads))
    return run_job(
        job,
        ctx,
        dataset,
        on_epoch=lambda row: queue.put(("epoch", job.key, row)),
        on_start=lambda: queue.put(("start", job.key, {"pid": os.getpid()})),
    )


def execute(
    jobs: list[Job],
    ctx: JobContext,
    dataset: Dataset,
    reporter: Reporter,
    address: str | None = None,
    gpus_per_job: float | None = None,
    cpus_per_job: float | None = None,
    max_retries: int = MAX_RETRIES,
) -> list[JobResult | None]:
    """Schedule every unfinished job on Ray; returns results in job order or raises listing failed jobs.

    By default (`cpus_per_job` None) a job on this machine takes the threads the local executor's job would
    (torch's, in this process), so that both executors compute the same numbers; on a cluster (`address`),
    one CPU."""
    try:
        import ray
        from ray.util.queue import Queue
    except ImportError:
        raise RunError('--executor ray needs Ray: pip install "ichbench[ray]"') from None
    if cpus_per_job is None:
        cpus_per_job = 1.0 if address else float(min(torch.get_num_threads(), os.cpu_count() or 1))
    started_here = not ray.is_initialized()
    if started_here:
        _init(ray, address, cpus_per_job, ctx.run_dir)
    try:
        gpus = (1.0 if ctx.device == "cuda" else 0.0) if gpus_per_job is None else float(gpus_per_job)
        remote = ray.remote(_remote_job).options(num_cpus=cpus_per_job, num_gpus=gpus, max_retries=max_retries)
        queue = Queue()
        data_ref = ray.put(dataset)  # once; workers on a node share it from the object store
        results: dict[Job, JobResult | None] = {j: r for j in jobs if (r := finished(ctx, j)) is not None}
        pending = {
            remote.remote(j, ctx, data_ref, queue, max(1, int(cpus_per_job))): j for j in jobs if j not in results
        }
        for j, result in results.items():
            reporter.job_done(j.key, result)
        failed = _collect(ray, pending, results, queue, reporter, ctx.protocol.training.epochs)
    finally:
        if started_here:
            ray.shutdown()
    if failed:
        causes: dict[str, list[str]] = {}
        for job, cause in failed:
            causes.setdefault(cause, []).append(job.key)
        raise RunError(
            f"{len(failed)} job(s) failed for good: "
            + "; ".join(f"{cause} ({', '.join(keys)})" for cause, keys in causes.items())
            + ". Finished jobs are kept; fix the cause and run again with --resume."
        )
    return [results[j] for j in jobs]


def _init(ray, address: str | None, cpus_per_job: float, neutral: Path) -> None:
    """Start or join Ray from `neutral`, a folder that holds no code. Ray puts the driver's working directory
    first on every worker's sys.path; run from a checkout (where the README leaves a user), the workers would
    import its uncompiled source tree instead of the installed package and fail on the missing extension."""
    here = os.getcwd()
    neutral.mkdir(parents=True, exist_ok=True)
    os.chdir(neutral)
    try:
        if address:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        else:  # a private local instance on the loopback interface
            kwargs = {"include_dashboard": False, "log_to_driver": False, "_node_ip_address": "127.0.0.1"}
            ray.init(num_cpus=os.cpu_count(), **kwargs)
    finally:
        os.chdir(here)


def _collect(ray, pending: dict, results: dict, queue, reporter: Reporter, epochs: int) -> list[tuple[Job, str]]:
    failed: list[tuple[Job, str]] = []
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1, timeout=0.2)
        _drain(queue, reporter, epochs)
        for ref in done:
            job = pending.pop(ref)
            try:
                results[job] = ray.get(ref)
                if results[job] is not None:  # None: the run's deadline stopped it, resumable
                    reporter.job_done(job.key, results[job])
            except Exception as exc:  # a task error or a worker that died more often than retried
                failed.append((job, describe_failure(exc)))
    time.sleep(0.1)
    _drain(queue, reporter, epochs)
    return failed


def describe_failure(exc: BaseException) -> str:
    """What went wrong with a Ray task, in words: the job's own error, or what Ray did to its worker."""
    import ray.exceptions as rex

    cause = getattr(exc, "cause", None)
    if isinstance(exc, rex.RayTaskError) and cause is not None:  # the job raised: say what it said
        return str(cause) if isinstance(cause, IchbenchError) else f"{type(cause).__name__}: {cause}"
    if isinstance(exc, rex.OutOfMemoryError):
        return (
            "Ray's memory monitor killed the worker because the machine's memory use passed its threshold "
            "(RAY_memory_usage_threshold, 0.95 by default): other processes or too many parallel jobs; "
            "use fewer jobs at once (--cpus-per-job) or more memory"
        )
    if isinstance(exc, rex.WorkerCrashedError):
        return "the worker process died (killed by the OS, out of memory, or crashed) more often than retried"
    if isinstance(exc, rex.RaySystemError):  # e.g. the worker could not unpickle (import) the job's code
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        last = next((line for line in reversed(lines) if "Error" in line.split(":")[0]), lines[-1] if lines else "")
        return f"a Ray worker could not load the job: {last or 'Ray gave no message'}"
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return f"{type(exc).__name__}: {text[:500] or 'Ray gave no message'}"


def _drain(queue, reporter: Reporter, epochs: int) -> None:
    # A worker says "start" only once its job really begins (not when the deadline stopped it first).
    while not queue.empty():
        kind, key, payload = queue.get_nowait()
        if kind == "epoch":
            reporter.epoch_done(key, payload)
        else:
            reporter.job_started(key, epochs)
            reporter.job_running(key, payload)
