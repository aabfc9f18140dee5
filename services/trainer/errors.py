"""The trainer service's errors, in OpenAI's vocabulary like the inference service's (`type`, `code`, `param`).

Each is a ServiceError, so one handler (services/common/openai_errors.py) renders them all as
`{"error": {"message", "type", "param", "code"}}`.
"""

from __future__ import annotations

from ..common.errors import ServiceError


class TrainerError(ServiceError):
    error_type = "invalid_request_error"


class InvalidJobError(TrainerError):
    """A recipe or override the run could not use (400, as OpenAI answers an invalid request), refused
    before anything is queued."""

    status = 400
    code = "invalid_config"

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message, param=param)


class JobNotFoundError(TrainerError):
    status = 404
    code = "job_not_found"

    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job {job_id!r}", param="job_id")


class JobConflictError(TrainerError):
    """The job's state does not allow the operation (cancelling a job that already finished)."""

    status = 409
    code = "job_finished"
