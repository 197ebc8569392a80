"""Problems from pydantic's validation errors: the JSON path into the submitted document,
the node it concerns, and a message that names the field and the node type."""

import typing
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from engine.definition import Definition
from engine.names import closest, did_you_mean
from engine.node_types import NODE_MODELS
from engine.problems import Problem

Loc = tuple[int | str, ...]

_BY_TAG: dict[str, type[BaseModel]] = {str(tag): model for tag, model in NODE_MODELS.items()}
_TYPES = ", ".join(NODE_MODELS)
_TAG_ERRORS = frozenset({"union_tag_invalid", "union_tag_not_found"})


def _field_types() -> dict[str, list[str]]:
    """Every field some node types take and others not, with the types that take it."""
    found: dict[str, list[str]] = {}
    for tag, model in _BY_TAG.items():
        for field in model.model_fields:
            found.setdefault(field, []).append(tag)
    return {field: tags for field, tags in found.items() if len(tags) < len(_BY_TAG)}


_FIELD_TYPES = _field_types()


def problems_from(error: ValidationError, raw: Any) -> list[Problem]:
    problems = []
    for detail in error.errors():
        loc = detail["loc"]
        node_id = _node_id(loc, raw)
        at = _without_node_type(loc, detail["type"] in _TAG_ERRORS)
        path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in at)
        problems.append(Problem(path.removeprefix("."), _message(detail), node_id))
    return problems


def _node_id(loc: Loc, raw: Any) -> str | None:
    if len(loc) < 2 or loc[0] != "nodes" or not isinstance(loc[1], int):
        return None
    node = raw["nodes"][loc[1]]
    node_id = node.get("id") if isinstance(node, Mapping) else None
    return node_id if isinstance(node_id, str) else None


def _without_node_type(loc: Loc, no_model: bool) -> Loc:
    """The location without the node type pydantic puts after a node's position (the tag
    of the union of node models); a node whose type chose no model is wrong in `type`."""
    if len(loc) < 2 or loc[0] != "nodes" or not isinstance(loc[1], int):
        return loc
    if no_model:
        return (*loc, "type")
    return (*loc[:2], *loc[3:])


def _message(detail: ErrorDetails) -> str:
    loc, kind = detail["loc"], detail["type"]
    if kind == "union_tag_invalid":
        tag = str(detail.get("ctx", {}).get("tag"))
        guess = closest(tag, _BY_TAG)
        hint = f"did you mean {guess!r}? The" if guess else "the"
        return f"unknown node type {tag!r}; {hint} types are {_TYPES}"
    if kind == "union_tag_not_found":
        return f"a node needs a 'type': one of {_TYPES}"
    node_type = _node_type(loc)
    if kind == "missing" and node_type is not None and len(loc) == 4:
        return f"{node_type} needs {loc[3]!r}"
    if kind == "extra_forbidden":
        return _unknown_field(loc, node_type)
    # Our validators raise ValueError, which pydantic prefixes with "Value error, ".
    cause = detail.get("ctx", {}).get("error")
    return str(cause) if kind == "value_error" and cause else detail["msg"]


def _node_type(loc: Loc) -> str | None:
    if len(loc) >= 3 and loc[0] == "nodes" and isinstance(loc[1], int):
        return str(loc[2]) if loc[2] in _BY_TAG else None
    return None


def _unknown_field(loc: Loc, node_type: str | None) -> str:
    field = str(loc[-1])
    if node_type is not None and len(loc) == 4:
        types_ = _FIELD_TYPES.get(field)
        if types_ is not None:
            return f"{field!r} applies to {' and '.join(types_)} nodes only"
        known = _names(_BY_TAG[node_type])
        return f"{node_type} has no field {field!r}{did_you_mean(field, known)}"
    model = _model_at(loc[:-1])
    known = _names(model) if model is not None else []
    return f"unknown field {field!r}{did_you_mean(field, known)}"


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The model that validated the object at `loc` (pydantic's location, node type
    included)."""
    candidates: list[type[BaseModel]] = [Definition]
    for part in loc:
        if isinstance(part, int):
            continue
        if len(candidates) > 1:
            candidates = [model for model in candidates if model is _BY_TAG.get(part)]
            continue
        if not candidates:
            return None
        fields = {info.alias or name: info for name, info in candidates[0].model_fields.items()}
        if part not in fields:
            return None
        candidates = list(_models_in(fields[part].annotation))
    return candidates[0] if len(candidates) == 1 else None


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for argument in typing.get_args(annotation):
        yield from _models_in(argument)


def _names(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]
