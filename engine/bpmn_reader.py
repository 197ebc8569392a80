"""What every part of one BPMN document's translation shares: the element being translated,
the problems found so far (each pointing at that element), and settings read as the values
the definition format writes."""

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

from engine.bpmn_xml import bpmn_tag, element_path
from engine.expression_dialects import Dialect, Untranslatable, to_cel
from engine.problems import ERROR, WARNING
from engine.validation import Problem

# A whole-value JUEL expression, as Camunda 7 and Flowable write them.
_JUEL = re.compile(r"^[$#]\{(?P<body>.*)\}$", re.DOTALL)
# A comma that is not inside a ${...} expression, which may hold commas of its own.
_LIST_SEPARATOR = re.compile(r",(?![^{]*\})")
# One JUEL expression inside text (a composite expression: `Dear ${name}`).
_JUEL_PART = re.compile(r"[$#]\{(?P<body>[^}]*)\}")


class Reader:
    """The shared state of one document's translation, collecting problems as it goes."""

    def __init__(self, root: ET.Element) -> None:
        self.root = root
        self.problems: list[Problem] = []
        # The element being translated: problems point at it.
        self.element = root

    def _problem(self, message: str, severity: str = ERROR) -> None:
        node_id = None if self.element is self.root else self.element.get("id")
        self.problems.append(Problem(element_path(self.element), message, node_id, severity))

    def _warning(self, message: str) -> None:
        """Something the document says that Flowdesk reads but does not carry out: the
        import goes on, and the author is told."""
        self._problem(message, WARNING)

    # Values

    def _value(self, text: str) -> str:
        """A setting as the format writes it: `${x}`, `#{x}` and `=x` become `=x`; anything
        else stays the literal it is."""
        text = text.strip()
        body = self._expression_body(text)
        return text if body is None else "=" + body

    def _cel(self, text: str) -> str:
        """A field that is always an expression (conditions, outputs): the expression,
        unwrapped, as CEL. Without a wrapper it is SpiffWorkflow's Python (or CEL)."""
        text = text.strip()
        body = self._expression_body(text)
        return self._translated(text, Dialect.PYTHON) if body is None else body

    def _composite(self, text: str) -> str:
        """JUEL text with expressions inside (`Dear ${name}`), as the CEL that joins the
        text and each expression's value."""
        parts: list[str] = []
        position = 0
        for match in _JUEL_PART.finditer(text):
            if match.start() > position:
                parts.append(_cel_string(text[position : match.start()]))
            parts.append(f"string({self._translated(match['body'].strip(), Dialect.JUEL)})")
            position = match.end()
        if position < len(text):
            parts.append(_cel_string(text[position:]))
        return " + ".join(parts)

    def _translated(self, text: str, dialect: Dialect) -> str:
        """`text` of `dialect` as CEL; a problem (and the text as it was) when it is outside
        the subset translated."""
        try:
            return to_cel(text, dialect)
        except Untranslatable as refused:
            self._problem(
                f"the {dialect.value} expression {text!r} cannot be translated to CEL "
                f'({refused}). Flowdesk reads CEL: write `x == "y"`'
            )
            return text

    def _cel_child(self, element: ET.Element, child: str) -> str | None:
        found = element.find(bpmn_tag(child))
        text = (found.text or "").strip() if found is not None else ""
        return self._cel(text) if text else None

    def _collection(self, text: str) -> str:
        value = self._value(text)
        # Camunda 7 and Flowable read a plain collection as the name of a variable.
        return value if value.startswith("=") else "=" + value

    def _list(self, text: str) -> list[str]:
        return [self._value(item) for item in split_list(text)]

    def _expression_body(self, text: str) -> str | None:
        """The expression inside `=...` (FEEL) or `${...}` and `#{...}` (JUEL), as CEL;
        None for a literal."""
        if text.startswith("="):
            return self._translated(text[1:].strip(), Dialect.FEEL)
        if (body := juel_body(text)) is not None:
            return self._translated(body, Dialect.JUEL)
        if "${" in text or "#{" in text:
            return self._composite(text)
        return None


def _cel_string(text: str) -> str:
    # JSON's string escapes are CEL's.
    return json.dumps(text, ensure_ascii=False)


def juel_body(text: str) -> str | None:
    """The text inside a whole-value `${...}` or `#{...}`, as written; None otherwise."""
    match = _JUEL.match(text)
    if match and "${" not in match["body"] and "#{" not in match["body"]:
        return match["body"].strip()
    return None


def split_list(text: str) -> list[str]:
    """A comma-separated list of names or expressions; a Zeebe `=` expression is one item."""
    if text.strip().startswith("="):
        return [text.strip()]
    return [item.strip() for item in _LIST_SEPARATOR.split(text) if item.strip()]


def put(target: dict[str, Any], key: str, value: object) -> None:
    """Set `key` unless the value is absent or empty: the format omits what is not said."""
    if value is not None and value != "" and value != [] and value != {}:
        target[key] = value
