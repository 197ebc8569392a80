"""The Temporal client every process shares, with the pydantic converter the messages need."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from api.settings import Settings


async def connect_temporal(settings: Settings, *, lazy: bool = False) -> Client:
    """`lazy` connects at the first call instead, for a process that may make none."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        lazy=lazy,
    )
