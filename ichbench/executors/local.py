"""The default executor: jobs one after another in this process."""

from __future__ import annotations

from ichbench.data.dataset import Dataset
from ichbench.errors import RunError
from ichbench.progress import Reporter
from ichbench.training.job import Job, JobContext, run_job


def execute(jobs: list[Job], ctx: JobContext, dataset: Dataset, reporter: Reporter, **options: object) -> list[dict]:
    """Run every job in order; a finished job is read back, not rerun; None for a job the deadline stopped.
    Takes no options."""
    if options:
        raise RunError(f"the local executor takes no options, got {', '.join(options)}")
    results = []
    epochs = ctx.protocol.training.epochs
    for job in jobs:
        result = run_job(
            job,
            ctx,
            dataset,
            on_epoch=lambda row, key=job.key: reporter.epoch_done(key, row),
            on_start=lambda key=job.key: reporter.job_started(key, epochs),
        )
        if result is not None:
            reporter.job_done(job.key, result)
        results.append(result)
    return results
