"""What a BPMN service task is bound to in the engine it was drawn for, as a Flowdesk action.

| binding | action | input | output |
| --- | --- | --- | --- |
| Zeebe job type (`zeebe:taskDefinition type`) | the type | task headers, then input mappings | output mappings |
| Camunda 8 REST connector (`io.camunda:http-json:1`) | `http` | url, method, headers, queryParameters -> params, body -> json, readTimeoutInSeconds -> timeout | `resultVariable` -> the whole answer |
| external task (`camunda:type="external"`, `flowable:type="external-worker"`) | the topic | input parameters | output parameters |
| Java class (`camunda:class`, `flowable:class`) | the class name | field injections, input parameters | output parameters |
| delegate expression (`${chargeCard}`) | the bean's name | the same | the same |
| method expression (`${billing.charge(execution)}`) | the method's path, `billing.charge` | the same | `resultVariable` -> the whole result |
| Flowable's http task (`flowable:type="http"`) | `http` | requestMethod, requestUrl, requestHeaders, requestBody, requestTimeout -> method, url, headers, json, timeout | the response body (and with saveResponseParameters its status and headers) under the task's id or the names the fields give |
| SpiffWorkflow service operator (`spiffworkflow:serviceTaskOperator id`) | the operator's id | its parameters (expressions) | `resultVariable` -> the whole result |

A Java binding names an action Flowdesk does not have: a deployment registers a Python action
under that name (the `flowdesk.actions` entry points), and the import warns so. Other bindings
(Camunda 7 connectors, Flowable's built-in mail, http, shell or camel tasks) are refused by name.
"""

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

from engine.bpmn_reader import Reader, juel_body
from engine.bpmn_xml import (
    ACTIVITI_LIKE,
    SPIFF,
    ZEEBE,
    activiti_attr,
    bpmn_tag,
    extension_element,
    extension_elements,
    qname,
)

# The Camunda 8 REST connector's job type, and its inputs as the `http` action's.
REST_CONNECTOR = "io.camunda:http-json:1"
_REST_INPUTS = {
    "url": "url",
    "method": "method",
    "headers": "headers",
    "queryParameters": "params",
    "body": "json",
    "readTimeoutInSeconds": "timeout",
}
# Flowable's http task's fields that are the `http` action's inputs as they are.
_FLOWABLE_HTTP_INPUTS = {"requestMethod": "method", "requestUrl": "url"}
# Connector settings that change only how Zeebe talks to the server, not the request.
_REST_IGNORED = frozenset({"connectionTimeoutInSeconds", "retryBackoff"})
# A method expression: a bean's (dotted) method, called with any arguments.
_METHOD = re.compile(r"^(?P<path>[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)\s*(?:\(.*\))?$", re.S)
_REGISTER = (
    "register a Python action of that name on the workers (entry point group flowdesk.actions)"
)


class BindingReader(Reader):
    """Reads the action a service (or send) task is bound to."""

    def _action(self, element: ET.Element) -> str | None:
        """The action's name; None (with a problem) when the task is bound to nothing
        Flowdesk can run."""
        definition = extension_element(element, (ZEEBE,), "taskDefinition")
        if definition is not None and definition.get("type"):
            job_type = definition.get("type", "")
            return "http" if job_type == REST_CONNECTOR else job_type
        operator = extension_element(element, (SPIFF,), "serviceTaskOperator")
        if operator is not None and operator.get("id"):
            return operator.get("id")
        topic = activiti_attr(element, "topic")
        kind = activiti_attr(element, "type")
        if kind in ("external", "external-worker"):
            if not topic:
                self._problem(f"the {kind} task names no topic: give it one, the action's name")
            return topic or None
        if kind == "http":
            self._warning(
                "the http action fails on 4xx and 5xx answers (HTTP_4XX, HTTP_5XX), where "
                "Flowable's http task goes on unless failStatusCodes names them: catch them "
                "with an error boundary"
            )
            return "http"
        if kind is not None:
            self._problem(
                f"the built-in {kind!r} task of its engine has no equivalent: use a service "
                "task whose action does its work (http, or one registered under flowdesk.actions)"
            )
            return None
        if (name := activiti_attr(element, "class")) is not None:
            self._warning(f"the Java class {name!r} becomes the action {name!r}: {_REGISTER}")
            return name
        for attribute in ("delegateExpression", "expression"):
            if (text := activiti_attr(element, attribute)) is not None:
                return self._expression_action(attribute, text)
        if extension_element(element, ACTIVITI_LIKE, "connector") is not None:
            self._problem(
                "a Camunda 7 connector cannot run in Flowdesk: bind the task to an action "
                '(camunda:type="external" and a topic, such as http, the built-in one)'
            )
            return None
        self._problem(
            'names no action: give it a zeebe:taskDefinition type, camunda:type="external" '
            '(flowable:type="external-worker") and a topic, or a Java binding '
            "(class, delegateExpression, expression) whose name a Python action takes"
        )
        return None

    def _expression_action(self, attribute: str, text: str) -> str | None:
        # The bean or method is named, not evaluated: its Java call is not translated.
        body = juel_body(text.strip())
        match = _METHOD.match(body) if body is not None else None
        if match is None:
            self._problem(
                f"{attribute} {text!r} names no bean or method: write ${{bean}} or "
                "${bean.method(...)}, whose name a Python action takes"
            )
            return None
        name = match["path"]
        if name.split(".")[0] in ("execution", "task"):
            self._problem(
                f"{attribute} {text!r} calls the engine's Java {name.split('.')[0]} object: "
                "set variables with a set action, or output mappings"
            )
            return None
        self._warning(f"the {attribute} {text!r} becomes the action {name!r}: {_REGISTER}")
        return name

    def _field_injections(self, element: ET.Element) -> dict[str, Any]:
        """camunda:field / flowable:field: the settings a Java delegate is given, which
        the action receives in its input."""
        fields: dict[str, Any] = {}
        for namespace in ACTIVITI_LIKE:
            for field in element.iterfind(f"{bpmn_tag('extensionElements')}/{{{namespace}}}field"):
                name = field.get("name", "")
                text = field.get("stringValue") or field.get("expression")
                for child in field:
                    if child.tag in (f"{{{namespace}}}string", f"{{{namespace}}}expression"):
                        text = child.text or ""
                if text is None:
                    self._problem(f"{qname(field.tag)} {name!r} has no value")
                    continue
                fields[name] = self._value(text)
        return fields

    def _operator_parameters(self, element: ET.Element) -> dict[str, Any]:
        """A SpiffWorkflow service operator's parameters: each value is an expression."""
        path = ("serviceTaskOperator", "parameters", "parameter")
        return {
            parameter.get("id", ""): "=" + (parameter.get("value") or "null")
            for parameter in extension_elements(element, (SPIFF,), *path)
        }

    def _result_variable(self, element: ET.Element, headers: dict[str, Any]) -> str | None:
        """The variable that takes the whole result: Camunda 7's and Flowable's
        resultVariable, SpiffWorkflow's operator's, or a connector's resultVariable header."""
        for attribute in ("resultVariable", "resultVariableName"):
            if name := activiti_attr(element, attribute):
                return name
        operator = extension_element(element, (SPIFF,), "serviceTaskOperator")
        if operator is not None and (name := operator.get("resultVariable")):
            return name
        name = headers.pop("resultVariable", None)
        if headers.pop("resultExpression", None):
            self._problem(
                "the connector's resultExpression is not read: write one zeebe:ioMapping "
                "output per variable, over result (the answer: status, headers, body)"
            )
        return name if isinstance(name, str) and name else None

    def _rest_input(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """The REST connector's inputs as the `http` action's."""
        translated: dict[str, Any] = {}
        for name, value in inputs.items():
            if name in _REST_INPUTS:
                translated[_REST_INPUTS[name]] = value
            elif name == "authentication":
                self._problem(
                    "the REST connector's authentication has no equivalent: "
                    "send the credentials in headers (Authorization)"
                )
            elif name not in _REST_IGNORED:
                self._warning(f"the REST connector's input {name!r} is ignored by the http action")
        return translated

    def _flowable_http(
        self, element: ET.Element, fields: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """Flowable's http task's fields as the `http` action's input, and the variables
        its answer goes to, as Flowable names them."""
        inputs: dict[str, Any] = {}
        settings: dict[str, Any] = {}
        for name, value in fields.items():
            if name in _FLOWABLE_HTTP_INPUTS:
                inputs[_FLOWABLE_HTTP_INPUTS[name]] = value
            elif name == "requestHeaders":
                inputs["headers"] = self._header_lines(value)
            elif name == "requestBody":
                inputs["json"] = self._json_body(value)
            elif name == "requestTimeout":
                if isinstance(value, str) and value.isdigit():
                    inputs["timeout"] = int(value) / 1000
                else:
                    self._problem(f"requestTimeout {value!r} is not a number of milliseconds")
            elif name in ("responseVariableName", "resultVariablePrefix", "saveResponseParameters"):
                settings[name] = value
            else:
                self._warning(f"the http task's field {name!r} is ignored by the http action")
        prefix = settings.get("resultVariablePrefix") or element.get("id", "")
        outputs = {settings.get("responseVariableName") or f"{prefix}ResponseBody": "result.body"}
        if settings.get("saveResponseParameters") == "true":
            outputs[f"{prefix}ResponseStatusCode"] = "result.status"
            outputs[f"{prefix}ResponseHeaders"] = "result.headers"
        return inputs, outputs

    def _header_lines(self, value: Any) -> Any:
        """`Name: value` lines as the headers object."""
        if not isinstance(value, str) or value.startswith("="):
            self._problem(
                "requestHeaders from an expression cannot be read: write them as "
                "`Name: value` lines"
            )
            return None
        headers: dict[str, str] = {}
        for line in value.splitlines():
            name, colon, text = line.partition(":")
            if line.strip() and not colon:
                self._problem(f"the request header line {line!r} is not `Name: value`")
            elif line.strip():
                headers[name.strip()] = text.strip()
        return headers

    def _json_body(self, value: Any) -> Any:
        if isinstance(value, str) and not value.startswith("="):
            try:
                return json.loads(value)
            except ValueError:
                self._problem("requestBody is not JSON: the http action sends JSON bodies")
                return None
        return value
