"""The Temporal client every process shares, with the pydantic converter the messages need."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from api.settings import Settings
from api.tracing import temporal_interceptors


async def connect_temporal(
    settings: Settings, *, lazy: bool = False, tracing: TracerProvider | None = None
) -> Client:
    """`lazy` connects at the first call instead, for a process that may make none;
    `tracing` carries traces through Temporal, into the workflows and activities."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        interceptors=temporal_interceptors(tracing),
        lazy=lazy,
    )
