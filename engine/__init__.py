"""Flowdesk's pure core: definitions, their validation, expressions and the interpreter.

No I/O, no clock, no randomness: it runs inside the Temporal workflow sandbox.
"""

from engine.definition import Definition, Flow
from engine.enums import HistoryEventType, InstanceStatus, NodeType, TaskStatus
from engine.expressions import ExpressionError
from engine.interpreter import (
    CompleteTask,
    InstanceState,
    InvalidEvent,
    StartInstance,
    Transition,
    can_complete,
    complete_task,
    start,
)
from engine.node_types import Node
from engine.validation import DefinitionInvalid, Problem, parse_definition, validate_definition

__all__ = [
    "CompleteTask",
    "Definition",
    "DefinitionInvalid",
    "ExpressionError",
    "Flow",
    "HistoryEventType",
    "InstanceState",
    "InstanceStatus",
    "InvalidEvent",
    "Node",
    "NodeType",
    "Problem",
    "StartInstance",
    "TaskStatus",
    "Transition",
    "can_complete",
    "complete_task",
    "parse_definition",
    "start",
    "validate_definition",
]
