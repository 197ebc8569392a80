"""The shipped templates (templates/*.json): each validates, matches the published schema,
is documented, and deploys in the order `flowdesk dev` deploys them."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

import templates
from api.services.definitions import definition_problems
from api.services.users import UserService
from engine.definition import definition_json_schema
from engine.validation import validate_definition
from tests.client import GraphQLClient
from tests.factories import TEMPLATES, deploy
from tests.kit.people import as_user
from tests.template_stack import TEMPLATE_NAMES, load

SCHEMA_FILE = TEMPLATES / "schema" / "definition.schema.json"

# The documents themselves


def test_at_least_fifteen_templates_ship() -> None:
    assert len(TEMPLATE_NAMES) >= 15, TEMPLATE_NAMES


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_template_validates_and_its_key_is_its_file_name(name: str) -> None:
    document = load(name)
    assert document["key"] == name
    assert validate_definition(document) == []
    # What deployDefinition adds: variables and forms are valid JSON Schemas, lengths fit.
    assert definition_problems(document) == []


def test_schema_file_is_what_the_engine_publishes() -> None:
    """templates/schema/definition.schema.json never drifts from the code; regenerate it
    with the command in templates/README.md."""
    expected = json.dumps(definition_json_schema(), indent=2, sort_keys=True, ensure_ascii=False)
    assert SCHEMA_FILE.read_text() == expected + "\n"


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_template_matches_the_published_json_schema(name: str) -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    Draft202012Validator.check_schema(schema)
    errors = [e.message for e in Draft202012Validator(schema).iter_errors(load(name))]
    assert errors == []


def test_flowdesk_dev_reads_every_template_and_not_the_schema() -> None:
    """`flowdesk dev` deploys templates/*.json; the schema lives in a subfolder so the glob
    does not take it for a template."""
    assert [document["key"] for document in templates.documents()] == TEMPLATE_NAMES


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_template_is_documented_for_people_and_front_ends(name: str) -> None:
    document = load(name)
    assert document.get("description")
    variables = document["variables"]
    assert variables["type"] == "object" and variables["properties"]
    assert all("title" in spec for spec in variables["properties"].values())
    for node in document["nodes"]:
        if node["type"] != "userTask":
            continue
        assert node.get("name"), node["id"]
        form = node.get("form")
        assert form and form["type"] == "object" and form.get("required"), node["id"]
        assert all("title" in spec for spec in form["properties"].values()), node["id"]
    readme = (TEMPLATES / "README.md").read_text()
    assert f"`{name}`" in readme


async def test_templates_deploy_in_the_order_flowdesk_dev_deploys_them(
    client: GraphQLClient, users: UserService
) -> None:
    """Under their own keys, in file order: a call activity's definition (due_diligence)
    must be deployed before its caller (vendor_onboarding)."""
    caller = await as_user(client, users)
    for document in templates.documents():
        deployed = await deploy(caller, document)
        assert deployed["key"] == document["key"]
