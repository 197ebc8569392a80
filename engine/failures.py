"""How a node says it cannot go on."""

from typing import Any

from engine.state import Redo


class Failure(Exception):
    """A node cannot go on (an expression failed, no flow applies, its work failed).

    The token stops where it is and the instance goes to INCIDENT; `redo` says what a
    retry does again, and `result` keeps what it needs for that.
    """

    def __init__(self, message: str, redo: Redo = Redo.ENTER, result: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.redo = redo
        self.result = result

    def to_redo(self, redo: Redo, result: Any = None) -> "Failure":
        """The same failure, retried by redoing `redo` instead."""
        return Failure(self.message, redo, result)
