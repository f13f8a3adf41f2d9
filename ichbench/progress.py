"""Progress of a run: a rich bar per job (epoch, loss, validation Jaccard), and log lines."""

from __future__ import annotations

import logging
import math

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ichbench.rundir import JobResult

log = logging.getLogger("ichbench.benchmark.run")


class Reporter:
    """Shows progress on stderr; everything also goes to the run's log."""

    def __init__(self, enabled: bool = True) -> None:
        self.console = Console(stderr=True)
        self.progress = Progress(
            TextColumn("{task.description:<24}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=self.console,
            disable=not enabled or not self.console.is_terminal,
        )
        self.tasks: dict[str, int] = {}

    def __enter__(self) -> Reporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def job_started(self, key: str, epochs: int) -> None:
        """A job begins (or resumes, also on a retried worker: its bar is reused)."""
        if key in self.tasks:
            self.progress.reset(self.tasks[key], total=max(epochs, 1), info="")
        else:
            self.tasks[key] = self.progress.add_task(key, total=max(epochs, 1), info="")
        log.info("job %s started", key)

    def job_running(self, key: str, where: dict) -> None:
        """A remote worker picked a job up (again, after a retry)."""
        log.info("job %s running in process %s", key, where.get("pid"))

    def epoch_done(self, key: str, row: dict) -> None:
        """One epoch of a job finished."""
        if "val_jaccard_loss" in row:  # select = val_soft_jaccard (the original's monitor) or last
            info = f"loss {row['train_loss']:.4f}  val J loss {row['val_jaccard_loss']:.3f}"
        else:
            info = f"loss {row['train_loss']:.4f}  val J {row.get('val_jaccard', math.nan):.3f}"
        self.progress.update(self.tasks[key], completed=row["epoch"] + 1, info=info)
        log.info("job %s epoch %d: %s", key, row["epoch"], info)

    def job_done(self, key: str, result: JobResult) -> None:
        """A job finished (or was found finished)."""
        task = self.tasks.get(key)
        if task is None:
            task = self.tasks[key] = self.progress.add_task(key, total=1, info="")
        self.progress.update(task, completed=self.progress.tasks[task].total, info="done")
        log.info("job %s done in %.1f s (best epoch %s)", key, result.seconds, result.best_epoch)
