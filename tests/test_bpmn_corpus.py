"""Real BPMN files, from public repositories of Camunda 7, Camunda 8, Flowable, SpiffWorkflow
and the BPMN MIWG test suite (tests/bpmn/corpus/SOURCES.md), imported as `validateDefinition`
imports them: each is accepted or refused with problems that point at the BPMN element the
author drew, and none crashes the import."""

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from api.services.definitions import definition_problems
from engine.bpmn import BpmnImportError, import_bpmn
from engine.problems import ERROR, WARNING
from engine.validation import Problem

CORPUS = Path(__file__).parent / "bpmn" / "corpus"
FILES = sorted(CORPUS.glob("*/*.bpmn"))
# The share of the corpus accepted, as measured; it may only grow.
ACCEPTED_AT_LEAST = 67 / 140
# A BPMN element with its id: `bpmn:sequenceFlow[@id='toEnd']`.
_ELEMENT = re.compile(r"^bpmn:\w+\[@id='[^']+'\]$")


def outcome(path: Path) -> list[Problem]:
    """Every problem the file has (warnings too), located in the BPMN."""
    try:
        imported = import_bpmn(path.read_bytes())
    except BpmnImportError as refused:
        return refused.problems
    return imported.warnings + imported.locate(definition_problems(imported.definition))


def test_every_file_is_listed_with_its_source_and_license() -> None:
    sources = json.loads((CORPUS / "sources.json").read_text())
    listed = {entry["file"] for entry in sources}
    assert listed == {str(path.relative_to(CORPUS)) for path in FILES}
    for entry in sources:
        assert entry["repository"] and re.fullmatch(r"[0-9a-f]{40}", entry["commit"])
        assert entry["path"] and entry["license"] in {"Apache-2.0", "LGPL-3.0", "CC-BY-3.0"}
    assert len(FILES) >= 100


@pytest.mark.parametrize("path", FILES, ids=lambda path: str(path.relative_to(CORPUS)))
def test_each_problem_names_the_bpmn_element_and_its_id(path: Path) -> None:
    for problem in outcome(path):
        assert problem.severity in (ERROR, WARNING)
        assert len(problem.message) > 15, problem
        if problem.path == "" or problem.path.startswith("bpmn:definitions"):
            # Only the document as a whole: not XML, or not one executable process.
            assert problem.node_id is None
            assert re.search(r"XML|executable process", problem.message), problem
        else:
            assert _ELEMENT.match(problem.path), problem
            assert problem.node_id is None or f"'{problem.node_id}'" in problem.path, problem


def test_the_share_accepted_does_not_fall() -> None:
    accepted: Counter[str] = Counter()
    for path in FILES:
        if not any(problem.severity == ERROR for problem in outcome(path)):
            accepted[path.parent.name] += 1
    share = sum(accepted.values()) / len(FILES)
    print(f"\nBPMN corpus: {sum(accepted.values())} of {len(FILES)} accepted ({share:.0%})")
    for engine in sorted({path.parent.name for path in FILES}):
        total = sum(path.parent.name == engine for path in FILES)
        print(f"  {engine}: {accepted[engine]} of {total}")
    assert share >= ACCEPTED_AT_LEAST
