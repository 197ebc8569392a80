"""BPMN 2.0 XML import: modeler exports become definition documents, or every problem at once."""

from pathlib import Path
from typing import Any

import pytest

from engine.bpmn import BpmnImportError, bpmn_to_definition, import_bpmn
from engine.validation import DefinitionInvalid, Problem, validate_definition

SAMPLES = Path(__file__).parent / "bpmn"

NAMESPACES = (
    'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
    'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" '
    'xmlns:flowable="http://flowable.org/bpmn" '
    'xmlns:activiti="http://activiti.org/bpmn" '
    'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
)


def sample(name: str) -> dict[str, Any]:
    return bpmn_to_definition((SAMPLES / name).read_bytes())


def document(body: str, *, root: str = "", process: str = 'id="p" isExecutable="true"') -> str:
    """A definitions element holding `root` and one process whose content is `body`."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions {NAMESPACES} id="d">'
        f"{root}<bpmn:process {process}>{body}</bpmn:process></bpmn:definitions>"
    )


def node(element: str, *, root: str = "") -> dict[str, Any]:
    """The node one flow-node element becomes (the importer leaves structure to validation)."""
    nodes: list[dict[str, Any]] = bpmn_to_definition(document(element, root=root))["nodes"]
    assert len(nodes) == 1
    return nodes[0]


def problems(xml: str | bytes) -> list[Problem]:
    with pytest.raises(BpmnImportError) as caught:
        bpmn_to_definition(xml)
    return caught.value.problems


def messages(xml: str | bytes) -> list[str]:
    return [problem.message for problem in problems(xml)]


def assert_deployable(definition: dict[str, Any]) -> None:
    """No validation problem: the engine accepts every node and field the import made."""
    assert validate_definition(definition) == []


# Samples, as the modelers export them


def test_camunda7_leave_request_becomes_the_definition_it_draws() -> None:
    assert sample("leave_request_camunda7.bpmn") == {
        "key": "leave_request",
        "name": "Leave request",
        "description": "An employee asks for days off; their manager decides.",
        "variables": {
            "type": "object",
            "properties": {
                "days": {"type": "integer", "title": "Days off", "minimum": 1},
                "manager": {"type": "string", "title": "Manager"},
            },
            "required": ["days"],
        },
        "nodes": [
            {"id": "start", "type": "startEvent", "name": "Leave requested"},
            {
                "id": "review",
                "type": "userTask",
                "name": "Manager review",
                "documentation": "Check the team calendar before approving.",
                "assignee": "=manager",
                "candidateGroups": ["managers", "hr"],
                "priority": 60,
                "form": {
                    "type": "object",
                    "properties": {
                        "approved": {"type": "boolean", "title": "Approve?", "default": False},
                        "comment": {"type": "string", "title": "Comment", "maxLength": 500},
                    },
                    "required": ["approved"],
                },
            },
            {"id": "decide", "type": "exclusiveGateway", "name": "Approved?"},
            {"id": "approved", "type": "endEvent", "name": "Leave approved"},
            {"id": "rejected", "type": "endEvent", "name": "Leave rejected"},
        ],
        "flows": [
            {"id": "Flow_0x1hb6z", "from": "start", "to": "review"},
            {"id": "Flow_1d5k0v4", "from": "review", "to": "decide"},
            {
                "id": "Flow_approved",
                "from": "decide",
                "to": "approved",
                "condition": "approved == true",
            },
            {"id": "Flow_rejected", "from": "decide", "to": "rejected", "default": True},
        ],
    }


def test_zeebe_leave_request_reads_assignment_priority_schedule_and_embedded_form() -> None:
    definition = sample("leave_request_zeebe.bpmn")
    assert definition["key"] == "leave_request_c8"
    assert definition["name"] == "Leave request"  # the process has none: the pool's
    assert definition["nodes"][1] == {
        "id": "Activity_review",
        "type": "userTask",
        "name": "Manager review",
        "assignee": "=manager",
        "candidateUsers": ["=deputies"],
        "candidateGroups": ["managers", "hr"],
        "priority": 70,
        "due": "=review_due",
        "form": {
            "type": "object",
            "properties": {
                "approved": {"type": "boolean", "title": "Approve?", "default": False},
                "comment": {"type": "string", "title": "Comment"},
            },
            "required": ["approved"],
        },
    }
    assert definition["flows"][2:] == [
        {
            "id": "Flow_yes",
            "from": "Gateway_decide",
            "to": "Event_approved",
            "condition": "approved",
        },
        {"id": "Flow_no", "from": "Gateway_decide", "to": "Event_rejected", "default": True},
    ]


def test_flowable_parallel_review_forks_and_joins() -> None:
    definition = sample("parallel_review_flowable.bpmn")
    assert definition["variables"] == {
        "type": "object",
        "properties": {
            "contract_url": {"type": "string", "title": "Contract"},
            "amount": {"type": "number", "title": "Amount"},
        },
        "required": ["contract_url"],
    }
    assert definition["nodes"] == [
        {"id": "startEvent1", "type": "startEvent"},
        {"id": "fork", "type": "parallelGateway", "name": "Split"},
        {
            "id": "legal_review",
            "type": "userTask",
            "name": "Legal review",
            "candidateGroups": ["legal"],
            "due": "PT48H",
            "form": {
                "type": "object",
                "properties": {"legal_ok": {"type": "boolean", "title": "Legally fine?"}},
                "required": ["legal_ok"],
            },
        },
        {
            "id": "finance_review",
            "type": "userTask",
            "name": "Finance review",
            "candidateUsers": ["cfo", "=controller"],
            "priority": "=amount > 10000 ? 80 : 50",
            "form": {
                "type": "object",
                "properties": {
                    "budget": {"type": "string", "title": "Budget line", "enum": ["capex", "opex"]}
                },
                "required": ["budget"],
            },
        },
        {"id": "join", "type": "parallelGateway", "name": "Both reviewed"},
        {"id": "reviewed", "type": "endEvent", "name": "Reviewed"},
    ]
    assert [(flow["from"], flow["to"]) for flow in definition["flows"]] == [
        ("startEvent1", "fork"),
        ("fork", "legal_review"),
        ("fork", "finance_review"),
        ("legal_review", "join"),
        ("finance_review", "join"),
        ("join", "reviewed"),
    ]


def test_zeebe_order_maps_service_task_boundaries_timer_receive_task_and_call_activity() -> None:
    nodes = {n["id"]: n for n in sample("order_zeebe.bpmn")["nodes"]}
    assert nodes["Activity_charge"] == {
        "id": "Activity_charge",
        "type": "serviceTask",
        "name": "Charge card",
        "documentation": "POSTs the order to the billing service.",
        "action": "http",
        "input": {"method": "POST", "url": "=billing_url", "json": "=order"},
        "output": {"charge_id": "result.body.id"},
        "retry": {"maxAttempts": 5},
    }
    assert nodes["Event_card_declined"] == {
        "id": "Event_card_declined",
        "type": "errorBoundary",
        "name": "Card declined",
        "attachedTo": "Activity_charge",
        "errorCode": "HTTP_4XX",
    }
    assert nodes["Event_pack_overdue"] == {
        "id": "Event_pack_overdue",
        "type": "timer",
        "name": "4 hours",
        "duration": "PT4H",
        "attachedTo": "Activity_pack",
        "interrupting": True,
    }
    assert nodes["Event_remind_courier"]["interrupting"] is False
    assert nodes["Event_pickup_slot"] == {
        "id": "Event_pickup_slot",
        "type": "timer",
        "name": "Next pickup slot",
        "duration": "=pickup_delay",
    }
    assert nodes["Activity_await_delivery"] == {
        "id": "Activity_await_delivery",
        "type": "receiveTask",
        "name": "Await delivery",
        "message": "delivery_confirmed",
    }
    assert nodes["Activity_invoice"] == {
        "id": "Activity_invoice",
        "type": "callActivity",
        "name": "Invoice",
        "calledElement": "invoicing",
        "inputs": {"order_id": "=order_id", "payment_ref": "=charge_id"},
        "outputs": {"invoice_no": "invoice_no"},
    }


def test_camunda7_multi_instance_reads_a_collection_variable_name_as_an_expression() -> None:
    task = sample("multi_approval_camunda7.bpmn")["nodes"][1]
    assert task["assignee"] == "=approver"
    assert task["multiInstance"] == {
        "collection": "=approvers",
        "elementVariable": "approver",
        "sequential": False,
        "completionCondition": "nrOfCompletedInstances >= 2",
    }


def test_zeebe_multi_instance_reads_loop_characteristics() -> None:
    task = sample("multi_approval_zeebe.bpmn")["nodes"][1]
    assert task["multiInstance"] == {
        "collection": "=signers",
        "elementVariable": "signer",
        "sequential": True,
        "completionCondition": "signatures.exists(s, s != null && s.veto)",
        "outputCollection": "signatures",
    }


@pytest.mark.parametrize("name", sorted(path.name for path in SAMPLES.glob("*.bpmn")))
def test_every_sample_imports_to_a_deployable_definition(name: str) -> None:
    assert_deployable(sample(name))


# Values and expressions


@pytest.mark.parametrize(
    ("written", "imported"),
    [
        ("${manager}", "=manager"),
        ("#{manager}", "=manager"),
        ("=manager", "=manager"),
        ("= manager", "=manager"),
        ("demo", "demo"),
    ],
)
def test_juel_and_feel_wrappers_become_expressions_and_literals_stay(
    written: str, imported: str
) -> None:
    task = node(f'<bpmn:userTask id="t" camunda:assignee="{written}" />')
    assert task["assignee"] == imported


def test_text_mixed_with_expressions_joins_the_text_and_the_values() -> None:
    task = node('<bpmn:userTask id="t" camunda:assignee="user-${n}" />')
    assert task["assignee"] == '="user-" + string(n)'
    task = node(
        """<bpmn:serviceTask id="t" camunda:class="a.B"><bpmn:extensionElements>"""
        """<camunda:field name="text" stringValue="Hello ${gender == 'f' ? 'Ms' : 'Mr'} """
        """#{name}!" /></bpmn:extensionElements></bpmn:serviceTask>"""
    )
    assert task["input"]["text"] == (
        "=\"Hello \" + string(gender == 'f' ? 'Ms' : 'Mr') + \" \" + string(name) + \"!\""
    )
    assert (
        validate_definition(
            {
                "key": "k",
                "name": "k",
                "nodes": [{"id": "s", "type": "startEvent"}, task, {"id": "e", "type": "endEvent"}],
                "flows": [{"from": "s", "to": "t"}, {"from": "t", "to": "e"}],
            }
        )
        == []
    )


def test_an_untranslatable_expression_inside_text_is_a_problem() -> None:
    [problem] = problems(document('<bpmn:userTask id="t" camunda:assignee="user-${u.id()}" />'))
    assert problem.node_id == "t"
    assert "the method call id(...)" in problem.message


@pytest.mark.parametrize("condition", ["${amount &gt; 100}", "=amount &gt; 100", "amount &gt; 100"])
def test_a_condition_loses_its_wrapper_only(condition: str) -> None:
    xml = document(
        '<bpmn:exclusiveGateway id="g" /><bpmn:endEvent id="e" />'
        '<bpmn:sequenceFlow id="f" sourceRef="g" targetRef="e">'
        f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}'
        "</bpmn:conditionExpression></bpmn:sequenceFlow>"
    )
    assert bpmn_to_definition(xml)["flows"] == [
        {"id": "f", "from": "g", "to": "e", "condition": "amount > 100"}
    ]


def test_candidate_lists_split_on_commas_outside_expressions() -> None:
    task = node(
        '<bpmn:userTask id="t" camunda:candidateUsers="ann, ${[a, b][turn]}" '
        'camunda:candidateGroups="${groups}" />'
    )
    assert task["candidateUsers"] == ["ann", "=[a, b][turn]"]
    assert task["candidateGroups"] == ["=groups"]


def test_standard_human_performer_and_potential_owner_give_assignee_and_candidates() -> None:
    def role(name: str, text: str) -> str:
        return (
            f"<bpmn:{name}><bpmn:resourceAssignmentExpression><bpmn:formalExpression>{text}"
            f"</bpmn:formalExpression></bpmn:resourceAssignmentExpression></bpmn:{name}>"
        )

    task = node(
        '<bpmn:userTask id="t">'
        + role("humanPerformer", "${owner}")
        + role("potentialOwner", "user(kermit), group(management), accountancy")
        + "</bpmn:userTask>"
    )
    assert task["assignee"] == "=owner"
    assert task["candidateUsers"] == ["kermit"]
    assert task["candidateGroups"] == ["management", "accountancy"]


def test_a_form_kept_outside_the_document_is_a_problem() -> None:
    xml = document('<bpmn:userTask id="t" camunda:formKey="embedded:app:forms/review.html" />')
    [problem] = problems(xml)
    assert problem.node_id == "t"
    assert "'embedded:app:forms/review.html' is not in the document" in problem.message


# Service tasks, call activities, events


def test_camunda7_external_task_maps_topic_and_input_output_parameters() -> None:
    task = node(
        '<bpmn:serviceTask id="s" camunda:type="external" camunda:topic="notify">'
        "<bpmn:extensionElements><camunda:inputOutput>"
        '<camunda:inputParameter name="to">${email}</camunda:inputParameter>'
        '<camunda:inputParameter name="tags"><camunda:list>'
        "<camunda:value>urgent</camunda:value><camunda:value>${team}</camunda:value>"
        "</camunda:list></camunda:inputParameter>"
        '<camunda:inputParameter name="json"><camunda:map>'
        '<camunda:entry key="amount">${amount}</camunda:entry>'
        "</camunda:map></camunda:inputParameter>"
        '<camunda:outputParameter name="sent_at">${result.at}</camunda:outputParameter>'
        "</camunda:inputOutput></bpmn:extensionElements></bpmn:serviceTask>"
    )
    assert task == {
        "id": "s",
        "type": "serviceTask",
        "action": "notify",
        "input": {"to": "=email", "tags": ["urgent", "=team"], "json": {"amount": "=amount"}},
        "output": {"sent_at": "result.at"},
    }


def test_a_send_task_runs_as_a_service_task() -> None:
    xml = '<bpmn:sendTask id="s"><bpmn:extensionElements><zeebe:taskDefinition type="mail" />'
    xml += "</bpmn:extensionElements></bpmn:sendTask>"
    assert node(xml) == {"id": "s", "type": "serviceTask", "action": "mail"}


def test_a_service_task_without_an_action_is_a_problem() -> None:
    [problem] = problems(document('<bpmn:serviceTask id="s" />'))
    assert problem.node_id == "s"
    assert problem.message.startswith("names no action")
    [problem] = problems(document('<bpmn:serviceTask id="s" camunda:type="external" />'))
    assert problem.message == "the external task names no topic: give it one, the action's name"


@pytest.mark.parametrize(
    ("attributes", "action", "output"),
    [
        ('camunda:class="com.acme.ChargeCard"', "com.acme.ChargeCard", None),
        ('flowable:class="org.acme.Charge"', "org.acme.Charge", None),
        ('activiti:class="org.acme.Charge"', "org.acme.Charge", None),
        ('camunda:delegateExpression="${chargeCard}"', "chargeCard", None),
        ('flowable:delegateExpression="#{beans.charge}"', "beans.charge", None),
        (
            'camunda:expression="${billing.charge(execution, amount)}" '
            'camunda:resultVariable="receipt"',
            "billing.charge",
            {"receipt": "result"},
        ),
        (
            'flowable:expression="${calc.total}" flowable:resultVariableName="sum"',
            "calc.total",
            {"sum": "result"},
        ),
    ],
)
def test_a_java_binding_becomes_an_action_of_its_name_with_a_warning(
    attributes: str, action: str, output: dict[str, str] | None
) -> None:
    imported = import_bpmn(document(f'<bpmn:serviceTask id="s" {attributes} />'))
    [task] = imported.definition["nodes"]
    assert task["action"] == action
    assert task.get("output") == output
    [warning] = imported.warnings
    assert (warning.severity, warning.node_id, warning.path) == (
        "warning",
        "s",
        "bpmn:serviceTask[@id='s']",
    )
    assert f"becomes the action {action!r}" in warning.message
    assert "flowdesk.actions" in warning.message


def test_field_injections_are_the_actions_input() -> None:
    task = node(
        '<bpmn:serviceTask id="s" camunda:class="com.acme.Mail"><bpmn:extensionElements>'
        '<camunda:field name="to" stringValue="ops@acme.test" />'
        '<camunda:field name="subject"><camunda:expression>${title}</camunda:expression>'
        "</camunda:field>"
        '<camunda:field name="body"><camunda:string>Hello</camunda:string></camunda:field>'
        "</bpmn:extensionElements></bpmn:serviceTask>"
    )
    assert task["input"] == {"to": "ops@acme.test", "subject": "=title", "body": "Hello"}


@pytest.mark.parametrize("expression", ["${a + b}", "${}", "charge"])
def test_an_expression_binding_that_names_no_method_is_a_problem(expression: str) -> None:
    [problem] = [
        p
        for p in problems(
            document(f'<bpmn:serviceTask id="s" camunda:expression="{expression}" />')
        )
        if p.severity == "error"
    ]
    assert problem.node_id == "s"
    assert "names no bean or method" in problem.message


def test_the_camunda8_rest_connector_runs_as_the_http_action() -> None:
    task = node(
        '<bpmn:serviceTask id="s"><bpmn:extensionElements>'
        '<zeebe:taskDefinition type="io.camunda:http-json:1" />'
        "<zeebe:ioMapping>"
        '<zeebe:input source="POST" target="method" />'
        '<zeebe:input source="=base_url" target="url" />'
        '<zeebe:input source="=headers" target="headers" />'
        '<zeebe:input source="=query" target="queryParameters" />'
        '<zeebe:input source="=order" target="body" />'
        '<zeebe:input source="20" target="connectionTimeoutInSeconds" />'
        '<zeebe:output source="=result.body.id" target="order_id" />'
        "</zeebe:ioMapping>"
        '<zeebe:taskHeaders><zeebe:header key="resultVariable" value="answer" />'
        "</zeebe:taskHeaders>"
        "</bpmn:extensionElements></bpmn:serviceTask>"
    )
    assert task == {
        "id": "s",
        "type": "serviceTask",
        "action": "http",
        "input": {
            "method": "POST",
            "url": "=base_url",
            "headers": "=headers",
            "params": "=query",
            "json": "=order",
        },
        "output": {"order_id": "result.body.id", "answer": "result"},
    }


def test_rest_connector_settings_without_an_equivalent_are_named() -> None:
    xml = document(
        '<bpmn:serviceTask id="s"><bpmn:extensionElements>'
        '<zeebe:taskDefinition type="io.camunda:http-json:1" />'
        '<zeebe:ioMapping><zeebe:input source="=auth" target="authentication" />'
        '<zeebe:input source="x" target="proxy" /></zeebe:ioMapping>'
        '<zeebe:taskHeaders><zeebe:header key="resultExpression" value="={id: body.id}" />'
        "</zeebe:taskHeaders>"
        "</bpmn:extensionElements></bpmn:serviceTask>"
    )
    found = [(p.severity, p.message) for p in problems(xml)]
    assert (
        "error",
        "the REST connector's authentication has no equivalent: send the "
        "credentials in headers (Authorization)",
    ) in found
    assert ("warning", "the REST connector's input 'proxy' is ignored by the http action") in found
    assert any("resultExpression" in message for _, message in found)


def test_a_spiffworkflow_service_operator_is_an_action_with_its_parameters() -> None:
    task = node(
        '<bpmn:serviceTask id="s"><bpmn:extensionElements>'
        '<spiffworkflow:serviceTaskOperator id="bamboohr/GetPayRate" resultVariable="pay">'
        '<spiffworkflow:parameters><spiffworkflow:parameter id="employee_id" value="employee" />'
        "</spiffworkflow:parameters></spiffworkflow:serviceTaskOperator>"
        "</bpmn:extensionElements></bpmn:serviceTask>"
    )
    assert task == {
        "id": "s",
        "type": "serviceTask",
        "action": "bamboohr/GetPayRate",
        "input": {"employee_id": "=employee"},
        "output": {"pay": "result"},
    }


@pytest.mark.parametrize("attributes", ['flowable:type="mail"', ""])
def test_built_in_tasks_and_connectors_of_other_engines_are_refused_by_name(
    attributes: str,
) -> None:
    connector = (
        ""
        if attributes
        else (
            "<bpmn:extensionElements><camunda:connector><camunda:connectorId>http-connector"
            "</camunda:connectorId></camunda:connector></bpmn:extensionElements>"
        )
    )
    [problem] = problems(
        document(f'<bpmn:serviceTask id="s" {attributes}>{connector}</bpmn:serviceTask>')
    )
    assert problem.node_id == "s"
    assert ("'mail' task" if attributes else "Camunda 7 connector") in problem.message


@pytest.mark.parametrize("language", ["groovy", "javascript", "python"])
def test_a_script_task_is_refused_by_name_with_the_alternative(language: str) -> None:
    xml = document(
        f'<bpmn:scriptTask id="calc" scriptFormat="{language}"><bpmn:script>x = 1</bpmn:script>'
        "</bpmn:scriptTask>"
    )
    [problem] = problems(xml)
    assert (problem.path, problem.node_id) == ("bpmn:scriptTask[@id='calc']", "calc")
    assert problem.message.startswith(f"a {language} script task cannot run in Flowdesk")
    assert "service task whose action" in problem.message


def test_the_activiti_namespace_is_read_like_flowable() -> None:
    xml = (
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:activiti="http://activiti.org/bpmn" id="d">'
        '<bpmn:process id="p" isExecutable="true">'
        '<bpmn:userTask id="t" activiti:assignee="${initiator}" activiti:candidateGroups="hr">'
        "<bpmn:extensionElements>"
        '<activiti:formProperty id="days" type="long" required="true" />'
        "</bpmn:extensionElements></bpmn:userTask></bpmn:process></bpmn:definitions>"
    )
    [task] = bpmn_to_definition(xml)["nodes"]
    assert task["assignee"] == "=initiator"
    assert task["candidateGroups"] == ["hr"]
    assert task["form"]["properties"]["days"] == {"type": "integer"}


def test_camunda7_call_activity_maps_version_and_in_out_mappings() -> None:
    activity = node(
        '<bpmn:callActivity id="c" calledElement="onboarding" '
        'camunda:calledElementBinding="version" camunda:calledElementVersion="3">'
        "<bpmn:extensionElements>"
        '<camunda:in source="name" target="employee" />'
        '<camunda:in sourceExpression="${start + 1}" target="first_day" />'
        '<camunda:out source="granted" target="access_granted" />'
        "</bpmn:extensionElements></bpmn:callActivity>"
    )
    assert activity == {
        "id": "c",
        "type": "callActivity",
        "calledElement": "onboarding",
        "version": 3,
        "inputs": {"employee": "=name", "first_day": "=start + 1"},
        "outputs": {"access_granted": "granted"},
    }


def test_call_activity_mappings_flowdesk_cannot_honour_are_problems() -> None:
    xml = document(
        '<bpmn:callActivity id="c" calledElement="child" camunda:calledElementBinding="deployment">'
        '<bpmn:extensionElements><camunda:out variables="all" /></bpmn:extensionElements>'
        "</bpmn:callActivity>"
        '<bpmn:callActivity id="z"><bpmn:extensionElements>'
        '<zeebe:calledElement processId="child" propagateAllChildVariables="true" />'
        "</bpmn:extensionElements></bpmn:callActivity>"
    )
    found = problems(xml)
    assert [p.node_id for p in found] == ["c", "c", "z"]
    assert "binding 'deployment' is not supported" in found[0].message
    assert "camunda:out needs a target and a source" in found[1].message
    assert "propagateAllChildVariables" in found[2].message


def test_a_fixed_time_date_becomes_an_expression_of_the_timestamp() -> None:
    timer = node(
        '<bpmn:intermediateCatchEvent id="w"><bpmn:timerEventDefinition>'
        "<bpmn:timeDate>2025-06-01T09:00:00Z</bpmn:timeDate>"
        "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
    )
    assert timer == {"id": "w", "type": "timer", "until": '="2025-06-01T09:00:00Z"'}


def test_a_message_catch_event_waits_like_a_receive_task() -> None:
    catch = node(
        '<bpmn:intermediateCatchEvent id="m" name="Paid">'
        '<bpmn:messageEventDefinition messageRef="Message_paid" />'
        "</bpmn:intermediateCatchEvent>",
        root='<bpmn:message id="Message_paid" name="payment_received" />',
    )
    assert catch == {
        "id": "m",
        "type": "receiveTask",
        "name": "Paid",
        "message": "payment_received",
    }


def test_an_error_boundary_without_an_error_ref_catches_every_error() -> None:
    boundary = node(
        '<bpmn:boundaryEvent id="b" attachedToRef="s"><bpmn:errorEventDefinition />'
        "</bpmn:boundaryEvent>"
    )
    assert boundary == {"id": "b", "type": "errorBoundary", "attachedTo": "s"}


def test_a_receive_task_without_a_message_waits_for_one_named_after_it() -> None:
    imported = import_bpmn(document('<bpmn:receiveTask id="wait" />'))
    assert imported.definition["nodes"] == [
        {"id": "wait", "type": "receiveTask", "message": "wait"}
    ]
    [warning] = imported.warnings
    assert warning.node_id == "wait"
    assert warning.message.startswith("waits for no message: it waits for the message 'wait'")


def test_an_error_ref_that_names_no_error_is_the_code_itself() -> None:
    imported = import_bpmn(
        document(
            '<bpmn:boundaryEvent id="b" attachedToRef="s">'
            '<bpmn:errorEventDefinition errorRef="CARD_DECLINED" /></bpmn:boundaryEvent>'
        )
    )
    assert imported.definition["nodes"] == [
        {"id": "b", "type": "errorBoundary", "attachedTo": "s", "errorCode": "CARD_DECLINED"}
    ]
    assert [(w.node_id, w.message) for w in imported.warnings] == [
        (
            "b",
            "refers to error 'CARD_DECLINED', which the document does not define: it catches "
            "the error code 'CARD_DECLINED', as Camunda 7 and Flowable read it",
        )
    ]


def test_event_problems_name_the_event() -> None:
    xml = document(
        '<bpmn:boundaryEvent id="cycle" attachedToRef="t" cancelActivity="false">'
        "<bpmn:timerEventDefinition><bpmn:timeCycle>R3/PT1H</bpmn:timeCycle>"
        "</bpmn:timerEventDefinition></bpmn:boundaryEvent>"
        '<bpmn:boundaryEvent id="err" attachedToRef="s" cancelActivity="false">'
        '<bpmn:errorEventDefinition errorRef="Error_missing" /></bpmn:boundaryEvent>'
        '<bpmn:receiveTask id="r" messageRef="Message_missing" />'
        '<bpmn:intermediateCatchEvent id="bare" />'
    )
    assert [(p.node_id, p.message) for p in problems(xml) if p.severity == "error"] == [
        ("cycle", "a repeating timer (timeCycle) is not supported"),
        ("err", "an error boundary event always interrupts (cancelActivity)"),
        ("r", "refers to message 'Message_missing', which the document does not define"),
        ("bare", "needs exactly one event definition, not 0"),
    ]


def test_multi_instance_needs_a_collection_and_no_zeebe_output_element() -> None:
    xml = document(
        '<bpmn:userTask id="counted"><bpmn:multiInstanceLoopCharacteristics>'
        "<bpmn:loopCardinality>3</bpmn:loopCardinality>"
        "</bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>"
        '<bpmn:userTask id="mapped"><bpmn:multiInstanceLoopCharacteristics>'
        '<bpmn:extensionElements><zeebe:loopCharacteristics inputCollection="=items" '
        'outputCollection="results" outputElement="=result" /></bpmn:extensionElements>'
        "</bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>"
    )
    found = problems(xml)
    assert [p.node_id for p in found] == ["counted", "mapped"]
    assert "a loopCardinality alone is not supported" in found[0].message
    assert "outputElement has no equivalent" in found[1].message


def test_a_loop_cardinality_beside_a_collection_is_ignored() -> None:
    task = node(
        '<bpmn:userTask id="t"><bpmn:multiInstanceLoopCharacteristics '
        'flowable:collection="${reviewers}" flowable:elementVariable="reviewer">'
        "<bpmn:loopCardinality>3</bpmn:loopCardinality>"
        "</bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>"
    )
    assert task["multiInstance"] == {
        "collection": "=reviewers",
        "elementVariable": "reviewer",
        "sequential": False,
    }


# What is rejected or ignored


def test_unsupported_elements_are_all_rejected_by_name_and_id() -> None:
    xml = document(
        '<bpmn:startEvent id="start"><bpmn:messageEventDefinition /></bpmn:startEvent>'
        '<bpmn:subProcess id="sp1"><bpmn:startEvent id="inner" /></bpmn:subProcess>'
        '<bpmn:eventBasedGateway id="race" />'
        '<bpmn:intermediateThrowEvent id="signal"><bpmn:signalEventDefinition />'
        "</bpmn:intermediateThrowEvent>"
        '<bpmn:serviceTask id="each"><bpmn:extensionElements><zeebe:taskDefinition type="x" />'
        "</bpmn:extensionElements><bpmn:multiInstanceLoopCharacteristics />"
        "</bpmn:serviceTask>"
        '<bpmn:userTask id="loop"><bpmn:standardLoopCharacteristics /></bpmn:userTask>'
        '<bpmn:endEvent id="end"><bpmn:escalationEventDefinition /></bpmn:endEvent>'
        '<bpmn:sequenceFlow id="f" sourceRef="start" targetRef="sp1" />'
    )
    assert [(p.path, p.node_id, p.message) for p in problems(xml)] == [
        (
            "bpmn:startEvent[@id='start']",
            "start",
            "unsupported element bpmn:messageEventDefinition in bpmn:startEvent 'start'",
        ),
        ("bpmn:subProcess[@id='sp1']", "sp1", "unsupported element bpmn:subProcess 'sp1'"),
        (
            "bpmn:eventBasedGateway[@id='race']",
            "race",
            "unsupported element bpmn:eventBasedGateway 'race'",
        ),
        (
            "bpmn:intermediateThrowEvent[@id='signal']",
            "signal",
            "unsupported element bpmn:signalEventDefinition in bpmn:intermediateThrowEvent "
            "'signal'",
        ),
        (
            "bpmn:serviceTask[@id='each']",
            "each",
            "unsupported element bpmn:multiInstanceLoopCharacteristics in bpmn:serviceTask 'each'",
        ),
        (
            "bpmn:userTask[@id='loop']",
            "loop",
            "unsupported element bpmn:standardLoopCharacteristics in bpmn:userTask 'loop'",
        ),
        (
            "bpmn:endEvent[@id='end']",
            "end",
            "unsupported element bpmn:escalationEventDefinition in bpmn:endEvent 'end'",
        ),
    ]


def test_elements_without_execution_semantics_are_ignored() -> None:
    xml = document(
        '<bpmn:laneSet id="ls"><bpmn:lane id="l"><bpmn:flowNodeRef>t</bpmn:flowNodeRef>'
        "</bpmn:lane></bpmn:laneSet>"
        '<bpmn:dataObject id="do" /><bpmn:dataObjectReference id="dor" dataObjectRef="do" />'
        '<bpmn:userTask id="t"><bpmn:dataOutputAssociation id="da">'
        "<bpmn:targetRef>dor</bpmn:targetRef></bpmn:dataOutputAssociation></bpmn:userTask>"
        '<bpmn:textAnnotation id="ta"><bpmn:text>note</bpmn:text></bpmn:textAnnotation>'
        '<bpmn:association id="a" sourceRef="t" targetRef="ta" />'
        '<bpmn:group id="g" categoryValueRef="cv" />',
        root='<bpmn:category id="c"><bpmn:categoryValue id="cv" value="v" /></bpmn:category>',
    )
    assert bpmn_to_definition(xml)["nodes"] == [{"id": "t", "type": "userTask"}]


def test_a_flow_to_an_unknown_element_is_a_problem_but_one_to_a_rejected_one_is_not() -> None:
    xml = document(
        '<bpmn:startEvent id="s" /><bpmn:subProcess id="sp" />'
        '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="ghost" />'
        '<bpmn:sequenceFlow id="f2" sourceRef="s" targetRef="sp" />'
    )
    assert problems(xml) == [
        Problem("bpmn:subProcess[@id='sp']", "unsupported element bpmn:subProcess 'sp'", "sp"),
        Problem(
            "bpmn:sequenceFlow[@id='f1']",
            "the sequence flow enters 'ghost', which is not in the process",
            "f1",
        ),
    ]


def test_a_default_flow_that_does_not_leave_its_gateway_is_a_problem() -> None:
    xml = document(
        '<bpmn:exclusiveGateway id="g" default="f_other" /><bpmn:startEvent id="s" />'
        '<bpmn:endEvent id="e" /><bpmn:sequenceFlow id="f_other" sourceRef="s" targetRef="e" />'
    )
    [problem] = problems(xml)
    assert (problem.node_id, problem.message) == (
        "g",
        "the default flow 'f_other' is not a sequence flow leaving it",
    )


# Documents that are not one importable process


@pytest.mark.parametrize(
    "processes",
    [
        "",
        '<bpmn:process id="a" isExecutable="false" />',
    ],
)
def test_a_document_without_an_executable_process_is_a_problem(processes: str) -> None:
    xml = f'<bpmn:definitions {NAMESPACES} id="d">{processes}</bpmn:definitions>'
    assert messages(xml) == [
        'no executable process: the document needs one bpmn:process with isExecutable="true"'
    ]


def test_two_executable_processes_are_a_problem_and_non_executable_pools_are_ignored() -> None:
    pools = '<bpmn:process id="a" isExecutable="true" /><bpmn:process id="b" />'
    assert messages(f'<bpmn:definitions {NAMESPACES} id="d">{pools}</bpmn:definitions>') == [
        "2 executable processes ('a', 'b'): a definition is one process; "
        'set isExecutable="false" on the others'
    ]
    pools = (
        '<bpmn:process id="a" isExecutable="true" /><bpmn:process id="b" isExecutable="false" />'
    )
    xml = f'<bpmn:definitions {NAMESPACES} id="d">{pools}</bpmn:definitions>'
    assert bpmn_to_definition(xml) == {"key": "a", "name": "a", "nodes": [], "flows": []}


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&lol3;</bpmn:definitions>
"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&secret;</bpmn:definitions>
"""


@pytest.mark.parametrize(
    "xml",
    [
        BILLION_LAUGHS,
        EXTERNAL_ENTITY,
        '<!DOCTYPE definitions><definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"/>',
        # A text search for "<!DOCTYPE" would not see it in UTF-16.
        BILLION_LAUGHS.replace('version="1.0"', 'version="1.0" encoding="UTF-16"').encode("utf-16"),
    ],
    ids=["billion-laughs", "external-entity", "bare-doctype", "utf-16"],
)
def test_a_doctype_is_refused_before_parsing(xml: str | bytes) -> None:
    assert messages(xml) == [
        "a DOCTYPE is not allowed: BPMN needs none, and entities can be an XML bomb"
    ]


@pytest.mark.parametrize("xml", ["", "<bpmn:definitions", "<a><b></a>", b"\xff\xfe\x00garbage"])
def test_malformed_xml_is_a_problem_not_a_parser_exception(xml: str | bytes) -> None:
    [problem] = problems(xml)
    assert problem.message.startswith("not well-formed XML: ")


def test_a_document_that_is_not_bpmn_is_a_problem() -> None:
    assert messages('<definitions xmlns="http://example.com/other" />') == [
        "not a BPMN 2.0 document: the root element is {http://example.com/other}definitions, "
        "not definitions in namespace http://www.omg.org/spec/BPMN/20100524/MODEL"
    ]


def test_the_import_error_is_a_definition_error_listing_its_problems() -> None:
    with pytest.raises(DefinitionInvalid) as caught:
        bpmn_to_definition(document('<bpmn:complexGateway id="cg" />'))
    assert isinstance(caught.value, BpmnImportError)
    assert "unsupported element bpmn:complexGateway 'cg'" in str(caught.value)


SIGNAVIO = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:signavio="http://www.signavio.com" id="sid-a1" exporter="Signavio Process Editor, http://www.signavio.com" exporterVersion="17.6.0" targetNamespace="http://www.signavio.com">
   <process id="sid-0D8C" isClosed="false" isExecutable="{executable}" name="Ticket triage" processType="None">
      <extensionElements><signavio:signavioDiagramMetaData metaKey="revisionid" metaValue="3f2c"/></extensionElements>
      <startEvent id="sid-S1" name="Ticket received"><outgoing>sid-F1</outgoing></startEvent>
      <userTask completionQuantity="1" id="sid-T1" implementation="webService" isForCompensation="false" name="Triage" startQuantity="1">
         <extensionElements><signavio:signavioMetaData metaKey="bgcolor" metaValue="#ffffcc"/></extensionElements>
         <incoming>sid-F1</incoming><outgoing>sid-F2</outgoing>
      </userTask>
      <endEvent id="sid-E1" name="Triaged"><incoming>sid-F2</incoming></endEvent>
      <sequenceFlow id="sid-F1" sourceRef="sid-S1" targetRef="sid-T1"/>
      <sequenceFlow id="sid-F2" sourceRef="sid-T1" targetRef="sid-E1"/>
   </process>
</definitions>
"""


def test_a_signavio_export_imports_once_marked_executable() -> None:
    assert messages(SIGNAVIO.replace("{executable}", "false")) == [
        'no executable process: the document needs one bpmn:process with isExecutable="true"'
    ]
    definition = bpmn_to_definition(SIGNAVIO.replace("{executable}", "true"))
    assert definition["nodes"][1] == {"id": "sid-T1", "type": "userTask", "name": "Triage"}
    assert_deployable(definition)


def _gateway_with(condition: str) -> str:
    return document(
        '<bpmn:startEvent id="start" /><bpmn:exclusiveGateway id="g" default="other" />'
        '<bpmn:endEvent id="end" />'
        '<bpmn:sequenceFlow id="in" sourceRef="start" targetRef="g" />'
        '<bpmn:sequenceFlow id="yes" sourceRef="g" targetRef="end">'
        f"<bpmn:conditionExpression>{condition}</bpmn:conditionExpression></bpmn:sequenceFlow>"
        '<bpmn:sequenceFlow id="other" sourceRef="g" targetRef="end" />'
    )


@pytest.mark.parametrize(
    ("condition", "cel"),
    [
        ('= status = "ok" and not(blocked)', 'status == "ok" && !(blocked)'),
        ("${amount gt 100 &amp;&amp; vip}", "amount > 100 && vip"),
        ("#{decision eq 'yes'}", "decision == 'yes'"),
        ("approved == True and reason != None", "approved == true && reason != null"),
    ],
)
def test_feel_juel_and_python_conditions_become_cel(condition: str, cel: str) -> None:
    definition = bpmn_to_definition(_gateway_with(condition))
    [flow] = [flow for flow in definition["flows"] if flow["id"] == "yes"]
    assert flow["condition"] == cel
    assert validate_definition(definition) == []


def test_an_untranslatable_condition_is_a_problem_of_its_flow() -> None:
    [problem] = problems(_gateway_with("${order.isPaid()}"))
    assert (problem.path, problem.node_id) == ("bpmn:sequenceFlow[@id='yes']", "yes")
    assert problem.message == (
        "the JUEL expression 'order.isPaid()' cannot be translated to CEL (the method call "
        'isPaid(...)). Flowdesk reads CEL: write `x == "y"`'
    )


def test_zeebe_mappings_are_translated_from_feel() -> None:
    task = node(
        '<bpmn:serviceTask id="s"><bpmn:extensionElements><zeebe:taskDefinition type="t" />'
        '<zeebe:ioMapping><zeebe:input source="=total = 0" target="free" />'
        '<zeebe:output source="=result.ok and flag" target="done" /></zeebe:ioMapping>'
        "</bpmn:extensionElements></bpmn:serviceTask>"
    )
    assert task["input"] == {"free": "=total == 0"}
    assert task["output"] == {"done": "result.ok && flag"}


# Nothing dropped without a word


def warnings_of(xml: str) -> list[tuple[str | None, str]]:
    return [(w.node_id, w.message) for w in import_bpmn(xml).warnings]


def test_listeners_and_settings_without_effect_here_are_warnings_naming_the_element() -> None:
    xml = document(
        '<bpmn:extensionElements><camunda:executionListener class="a.B" event="start" />'
        "</bpmn:extensionElements>"
        '<bpmn:startEvent id="start" camunda:initiator="starter" camunda:asyncBefore="true" />'
        '<bpmn:userTask id="t" flowable:taskCompleterVariableName="who" camunda:foo="1">'
        '<bpmn:extensionElements><camunda:taskListener event="create" class="a.C" />'
        '<camunda:properties><camunda:property name="x" value="y" /></camunda:properties>'
        "<zeebe:taskListeners /></bpmn:extensionElements></bpmn:userTask>"
        '<bpmn:sequenceFlow id="f" sourceRef="start" targetRef="t">'
        '<bpmn:extensionElements><flowable:executionListener event="take" class="a.D" />'
        "</bpmn:extensionElements></bpmn:sequenceFlow>",
        process='id="p" isExecutable="true" camunda:historyTimeToLive="30"',
    )
    assert warnings_of(xml) == [
        (
            "p",
            "an execution listener (camunda:executionListener on 'start') is not run: Flowdesk "
            "runs no Java code; model its work as a service task",
        ),
        (
            "start",
            "camunda:initiator='starter' is ignored: the instance records who started it (startedBy)",
        ),
        (
            "t",
            "flowable:taskCompleterVariableName='who' is ignored: the task's history records who completed it",
        ),
        ("t", "camunda:foo='1' is ignored: Flowdesk has no equivalent"),
        (
            "t",
            "a task listener (camunda:taskListener on 'create') is not run: Flowdesk runs no "
            "Java code; model its work as a service task",
        ),
        ("t", "camunda:properties is ignored: Flowdesk has no equivalent"),
        (
            "t",
            "task listeners (zeebe:taskListeners) are not run: Flowdesk has no listeners; "
            "model their work as a service task",
        ),
        (
            "f",
            "an execution listener (flowable:executionListener on 'take') is not run: "
            "Flowdesk runs no Java code; model its work as a service task",
        ),
    ]


def test_dotted_zeebe_input_targets_set_fields_of_an_object() -> None:
    task = node(
        '<bpmn:serviceTask id="s"><bpmn:extensionElements><zeebe:taskDefinition type="t" />'
        '<zeebe:ioMapping><zeebe:input source="=id" target="order.id" />'
        '<zeebe:input source="=sum" target="order.total.amount" />'
        '<zeebe:input source="EUR" target="currency" /></zeebe:ioMapping>'
        "</bpmn:extensionElements></bpmn:serviceTask>"
    )
    assert task["input"] == {
        "order": {"id": "=id", "total": {"amount": "=sum"}},
        "currency": "EUR",
    }


def test_settings_that_would_run_wrongly_here_are_problems_naming_the_element() -> None:
    xml = document(
        '<bpmn:startEvent id="start"><bpmn:extensionElements><zeebe:ioMapping>'
        '<zeebe:output source="=1" target="x" /></zeebe:ioMapping></bpmn:extensionElements>'
        "</bpmn:startEvent>"
        '<bpmn:callActivity id="c" calledElement="${which}" />'
        '<bpmn:serviceTask id="s"><bpmn:extensionElements><zeebe:taskDefinition type="t" />'
        '<zeebe:ioMapping><zeebe:output source="=result" target="order.state" />'
        "</zeebe:ioMapping></bpmn:extensionElements></bpmn:serviceTask>"
        """<bpmn:serviceTask id="e" camunda:expression="${execution.setVariable('a', 1)}" />"""
        '<bpmn:userTask id="u"><bpmn:extensionElements>'
        "<spiffworkflow:preScript>x = 1</spiffworkflow:preScript>"
        "</bpmn:extensionElements></bpmn:userTask>"
    )
    found = [(p.node_id, p.message) for p in problems(xml) if p.severity == "error"]
    assert found == [
        (
            "start",
            "zeebe:ioMapping on a start event has no equivalent: map the variables in the "
            "input of the first task",
        ),
        (
            "c",
            "calledElement '${which}' is an expression: Flowdesk calls a process by its key; "
            "write the key, or choose between call activities with a gateway",
        ),
        (
            "s",
            "output target 'order.state' sets a field: Flowdesk sets whole variables; write "
            "the target 'order' with the whole object",
        ),
        (
            "e",
            "expression \"${execution.setVariable('a', 1)}\" calls the engine's Java execution "
            "object: set variables with a set action, or output mappings",
        ),
        (
            "u",
            "a spiffworkflow:preScript cannot run in Flowdesk: do its work in a service "
            "task's action (a Python action registered under flowdesk.actions)",
        ),
    ]


def test_flowables_http_task_runs_as_the_http_action() -> None:
    def field(name: str, value: str) -> str:
        return f'<flowable:field name="{name}"><flowable:string><![CDATA[{value}]]>' + (
            "</flowable:string></flowable:field>"
        )

    imported = import_bpmn(
        document(
            '<bpmn:serviceTask id="post" flowable:type="http"><bpmn:extensionElements>'
            + field("requestMethod", "POST")
            + '<flowable:field name="requestUrl" expression="${base}/orders" />'
            + field("requestHeaders", "Content-Type: application/json\nX-Trace: 1")
            + field("requestBody", '{"test": "sample", "n": 2}')
            + field("requestTimeout", "5000")
            + field("saveResponseParameters", "true")
            + field("disallowRedirects", "true")
            + "</bpmn:extensionElements></bpmn:serviceTask>"
        )
    )
    [task] = imported.definition["nodes"]
    assert task == {
        "id": "post",
        "type": "serviceTask",
        "action": "http",
        "input": {
            "method": "POST",
            "url": '=string(base) + "/orders"',
            "headers": {"Content-Type": "application/json", "X-Trace": "1"},
            "json": {"test": "sample", "n": 2},
            "timeout": 5.0,
        },
        "output": {
            "postResponseBody": "result.body",
            "postResponseStatusCode": "result.status",
            "postResponseHeaders": "result.headers",
        },
    }
    messages = [w.message for w in imported.warnings]
    assert messages[0].startswith("the http action fails on 4xx and 5xx answers")
    assert messages[1:] == [
        "the http task's field 'disallowRedirects' is ignored by the http action"
    ]


def test_mappings_on_elements_that_do_not_read_them_are_warnings() -> None:
    xml = document(
        '<bpmn:userTask id="u"><bpmn:extensionElements><camunda:inputOutput>'
        '<camunda:inputParameter name="a">1</camunda:inputParameter></camunda:inputOutput>'
        '<zeebe:ioMapping><zeebe:output source="=x" target="y" /></zeebe:ioMapping>'
        "</bpmn:extensionElements></bpmn:userTask>"
        '<bpmn:serviceTask id="s"><bpmn:extensionElements><zeebe:taskDefinition type="t" />'
        '<zeebe:properties><zeebe:property name="k" value="v" /></zeebe:properties>'
        "</bpmn:extensionElements></bpmn:serviceTask>"
    )
    assert warnings_of(xml) == [
        ("u", "camunda:inputOutput is ignored: Flowdesk has no equivalent"),
        ("u", "zeebe:ioMapping is ignored: Flowdesk has no equivalent"),
        ("s", "zeebe:properties is ignored: Flowdesk has no equivalent"),
    ]


def test_an_inclusive_gateways_flow_without_a_condition_is_always_taken() -> None:
    definition = bpmn_to_definition(
        document(
            '<bpmn:startEvent id="start" /><bpmn:inclusiveGateway id="fork" default="d" />'
            '<bpmn:inclusiveGateway id="join" /><bpmn:endEvent id="end" />'
            '<bpmn:sequenceFlow id="in" sourceRef="start" targetRef="fork" />'
            '<bpmn:sequenceFlow id="a" sourceRef="fork" targetRef="join" />'
            '<bpmn:sequenceFlow id="b" sourceRef="fork" targetRef="join">'
            "<bpmn:conditionExpression>${x}</bpmn:conditionExpression></bpmn:sequenceFlow>"
            '<bpmn:sequenceFlow id="d" sourceRef="fork" targetRef="join" />'
            '<bpmn:sequenceFlow id="out" sourceRef="join" targetRef="end" />'
        )
    )
    conditions = {flow["id"]: flow.get("condition") for flow in definition["flows"]}
    assert conditions == {"in": None, "a": "true", "b": "x", "d": None, "out": None}
    assert validate_definition(definition) == []
