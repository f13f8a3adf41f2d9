"""The run directory and the evidence folder: their layout, file names and job results, owned here alone."""

from ichbench.rundir.layout import (
    BEST,
    CHECKPOINT,
    JOBS,
    PREDICTIONS,
    PROTOCOL,
    RESULT,
    RESULT_GZ,
    RUN_JSON,
    SPLITS,
    SUMMARY,
    JobDir,
    job_dirs,
    job_path,
    model_names,
)
from ichbench.rundir.result import JobResult, model_results, read_result, result_gz, write_result

__all__ = [
    "BEST",
    "CHECKPOINT",
    "JOBS",
    "PREDICTIONS",
    "PROTOCOL",
    "RESULT",
    "RESULT_GZ",
    "RUN_JSON",
    "SPLITS",
    "SUMMARY",
    "JobDir",
    "JobResult",
    "job_dirs",
    "job_path",
    "model_names",
    "model_results",
    "read_result",
    "result_gz",
    "write_result",
]
