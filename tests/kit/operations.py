"""The GraphQL operations that several test files send, each selecting what they read."""

from __future__ import annotations

START = "mutation($k: String!, $v: JSON) { startProcess(key: $k, variables: $v) { id status } }"
TASK = "query($id: ID!) { task(id: $id) { id status } }"
NODE = "query($id: ID!) { node(id: $id) { id } }"
CLAIM = "mutation($id: ID!) { claimTask(id: $id) { id status } }"
UNCLAIM = "mutation($id: ID!) { unclaimTask(id: $id) { id } }"
COMPLETE = "mutation($id: ID!, $v: JSON) { completeTask(id: $id, variables: $v) { id status } }"
SUSPEND = "mutation($id: ID!, $r: String) { suspendInstance(id: $id, reason: $r) { status } }"
RESUME = "mutation($id: ID!) { resumeInstance(id: $id) { status } }"
CANCEL = "mutation($id: ID!, $r: String) { cancelInstance(id: $id, reason: $r) { status } }"
RETRY = "mutation($id: ID!) { retryIncident(instanceId: $id) { status incident } }"
SET_VARIABLES = (
    "mutation($id: ID!, $v: JSON!) "
    "{ setInstanceVariables(id: $id, variables: $v) { status variables } }"
)
