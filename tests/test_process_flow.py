"""A process runs end to end through GraphQL, on real PostgreSQL, Redis and Temporal."""

from __future__ import annotations

from api.services.users import UserService
from tests.client import GraphQLClient
from tests.factories import claim, complete, deploy, inbox, instance, start, template
from tests.kit.people import make_user


async def test_leave_request_runs_to_its_end(
    client: GraphQLClient, users: UserService, unique: str
) -> None:
    # The template's groups, under names of this test's own: its inbox reads see only its tasks.
    groups = {"managers": f"managers-{unique}", "hr": f"hr-{unique}"}
    document = template("leave_request")
    for node in document["nodes"]:
        if "candidateGroups" in node:
            node["candidateGroups"] = [groups[g] for g in node["candidateGroups"]]
    employee = await make_user(users)
    manager = await make_user(users, groups=[groups["managers"]])
    clerk = await make_user(users, groups=[groups["hr"]])
    as_employee = await client.login(employee.username)
    as_manager = await client.login(manager.username)
    as_clerk = await client.login(clerk.username)

    definition = await deploy(as_employee, document)
    started = await start(as_employee, definition["key"], business_key="LR-1", days=12)
    assert started["status"] == "RUNNING"
    [review] = started["tasks"]
    assert review["nodeId"] == "review" and review["priority"] == 80

    mine = [e["node"]["id"] for e in (await inbox(as_manager))["edges"]]
    assert review["id"] in mine
    claimed = await claim(as_manager, review["id"])
    assert claimed["status"] == "CLAIMED" and claimed["assignee"]["username"] == manager.username
    done = await complete(as_manager, review["id"], approved=True)
    assert done["status"] == "COMPLETED"

    [record] = [
        e["node"]
        for e in (await inbox(as_clerk))["edges"]
        if e["node"]["instance"]["id"] == started["id"]
    ]
    await complete(as_clerk, record["id"], recorded=True)

    final = await instance(as_employee, started["id"])
    # The document comes on demand: pages load definitions without it.
    spec = await as_employee.execute(
        "query($id: ID!) { processInstance(id: $id) { definition { spec } } }",
        {"id": started["id"]},
    )
    assert spec["processInstance"]["definition"]["spec"]["key"] == definition["key"]
    assert final["status"] == "COMPLETED"
    assert final["variables"] == {"days": 12, "approved": True, "recorded": True}
    seqs = [h["seq"] for h in final["history"]]
    assert seqs == list(range(1, len(seqs) + 1))
    types = [h["type"] for h in final["history"]]
    assert types[0] == "INSTANCE_STARTED" and types[-1] == "INSTANCE_COMPLETED"
    assert types.count("TASK_COMPLETED") == 2 and "TASK_CLAIMED" in types
