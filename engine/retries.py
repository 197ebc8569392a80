"""Retry policies of service tasks: as the definition format writes them (`Retry`), and
as the caller runs the action with them (`RetrySpec`, in `RunService`)."""

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator

from engine.durations import check_duration, parse_duration
from engine.expressions import is_expression


class Retry(BaseModel):
    """How often and how patiently a service task's action is retried."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    maxAttempts: StrictInt = Field(
        default=3, ge=1, description="Attempts in all, the first included."
    )
    initialInterval: str = Field(
        default="PT1S", description="Wait before the second attempt (ISO 8601 duration)."
    )
    backoff: float = Field(
        default=2.0, ge=1.0, description="Each wait is the previous one times this."
    )
    maxInterval: str = Field(
        default="PT1M", description="Longest wait between attempts (ISO 8601 duration)."
    )
    nonRetryable: list[str] = Field(
        default_factory=list,
        description="Error codes that fail the task at once, without further attempts.",
    )

    @field_validator("initialInterval", "maxInterval")
    @classmethod
    def _interval_is_positive_duration(cls, value: str) -> str:
        if is_expression(value):
            raise ValueError("a retry interval is a literal ISO 8601 duration")
        check_duration(value, positive=True)
        return value

    @model_validator(mode="after")
    def _max_interval_is_not_shorter(self) -> "Retry":
        if parse_duration(self.maxInterval) < parse_duration(self.initialInterval):
            raise ValueError("maxInterval is shorter than initialInterval")
        return self


class RetrySpec(BaseModel):
    """The retry policy to run a service action with (Temporal's RetryPolicy fields)."""

    max_attempts: int
    initial_interval: timedelta
    backoff: float
    max_interval: timedelta
    non_retryable: list[str]

    @classmethod
    def of(cls, retry: Retry | None) -> "RetrySpec":
        retry = retry or Retry()
        return cls(
            max_attempts=retry.maxAttempts,
            initial_interval=parse_duration(retry.initialInterval),
            backoff=retry.backoff,
            max_interval=parse_duration(retry.maxInterval),
            non_retryable=list(retry.nonRetryable),
        )
