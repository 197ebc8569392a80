"""What validation reports: problems, each naming a JSON path and, when it concerns
one, a node, so an editor can point at both. A problem is an error (the definition cannot
be deployed) or a warning (it can, but something the author wrote has no effect)."""

from collections.abc import Iterator
from dataclasses import dataclass, field

from engine.definition import Definition, Flow
from engine.enums import NodeType
from engine.node_types import Node

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    path: str
    message: str
    node_id: str | None = None
    severity: str = ERROR

    def __str__(self) -> str:
        return f"{self.path or '(definition)'}: {self.message}"


@dataclass
class Report:
    """The definition under check and the problems found so far, shared by the checks.

    `salvaged` holds the positions of nodes that failed pydantic validation and were
    kept with only the fields the graph needs: their own errors are reported already,
    so only the structural checks look at them. `untyped` holds the ids of nodes whose
    type is unknown: they keep their place in the graph, but no rule of a node type
    applies to them. `graph_complete` is false when some node (without an id) or flow
    could not be kept at all: the structural checks do not run then.
    """

    definition: Definition
    salvaged: frozenset[int] = frozenset()
    untyped: frozenset[str] = frozenset()
    graph_complete: bool = True
    problems: list[Problem] = field(default_factory=list)
    # Position of the first node with each id: paths point at it.
    position: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for i, node in enumerate(self.definition.nodes):
            self.position.setdefault(node.id, i)

    def add(self, path: str, message: str, node_id: str | None = None) -> None:
        self.problems.append(Problem(path, message, node_id))

    def nodes(self) -> Iterator[tuple[int, Node]]:
        """Each node once: a repeated id is reported, not checked twice."""
        for i, node in enumerate(self.definition.nodes):
            if self.position[node.id] == i:
                yield i, node

    def parsed_nodes(self) -> Iterator[tuple[int, Node]]:
        """Each node once, leaving out the salvaged ones."""
        return ((i, node) for i, node in self.nodes() if i not in self.salvaged)

    def typed_nodes(self) -> Iterator[tuple[int, Node]]:
        """Each node once, leaving out those of an unknown type."""
        return ((i, node) for i, node in self.nodes() if node.id not in self.untyped)

    def known(self, node_id: str) -> Node | None:
        return self.definition.node(node_id) if node_id in self.position else None

    def typed(self, node_id: str) -> Node | None:
        """The node, if it is known and of a known type."""
        return self.known(node_id) if node_id not in self.untyped else None

    def positions_of(self, node_type: NodeType) -> list[int]:
        return [i for i, node in self.typed_nodes() if node.type is node_type]

    def source_id(self, flow: Flow) -> str | None:
        return flow.from_ if flow.from_ in self.position else None
