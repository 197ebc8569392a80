"""Global ids: `base64("Type:uuid")`, decoded with a clear error for anything else."""

from __future__ import annotations

import uuid

from strawberry import relay

from api.errors import BadUserInput


def decode_id(value: str, type_name: str, *, field: str = "id") -> uuid.UUID:
    try:
        gid = relay.GlobalID.from_id(value)
        if gid.type_name != type_name:
            raise ValueError(gid.type_name)
        return uuid.UUID(gid.node_id)
    except ValueError as exc:
        raise BadUserInput(f"'{value}' is not a {type_name} id", field=field) from exc


def encode_id(type_name: str, value: uuid.UUID) -> str:
    return str(relay.GlobalID(type_name, str(value)))
