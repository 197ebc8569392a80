"""Suggesting the name someone probably meant, for problems that name an unknown one."""

import difflib
from collections.abc import Iterable


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name closest to `name`, if one is close enough to be a likely typo."""
    found = difflib.get_close_matches(name, list(known), n=1, cutoff=0.75)
    return found[0] if found else None


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """A suffix for a problem's message: a question naming the close known name, or
    nothing when none is close."""
    guess = closest(name, known)
    return f"; did you mean {guess!r}?" if guess is not None else ""
