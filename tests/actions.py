"""Actions the test worker registers beside the built-ins, as a deployment would through the
`flowdesk.actions` entry points: named after the Java delegates of imported BPMN models."""

from typing import Any

from workers.actions import Action

# Every call, in order: (action name, input).
CALLS: list[tuple[str, dict[str, Any]]] = []


def _recording(name: str) -> Action:
    async def action(input: dict[str, Any]) -> Any:
        CALLS.append((name, input))
        return {"ran": name}

    return action


# The delegates of tests/bpmn/corpus/camunda7/bpmnParseListener.bpmn and the job types of
# tests/bpmn/corpus/camunda8/conditional-pathway-10c.bpmn.
ACTIONS: dict[str, Action] = {
    name: _recording(name)
    for name in (
        "org.camunda.bpm.example.delegate.ServiceTaskOneDelegate",
        "org.camunda.bpm.example.delegate.ServiceTaskTwoDelegate",
        "pathA-10c",
        "pathB-10c",
        "wait-10c",
    )
}
