"""The form of a BPMN user task or start event as a JSON Schema, in whichever flavour the
document gives it: Camunda 7 form fields (camunda:formData), Camunda 7 and Flowable form
properties (formProperty), or a Camunda Forms JSON document that Zeebe embeds."""

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import Any

from engine.bpmn_reader import put
from engine.bpmn_xml import (
    ACTIVITI_LIKE,
    CAMUNDA,
    ZEEBE,
    activiti_attr,
    extension_element,
    extension_elements,
    ns_path,
    strip_ns,
)

# Camunda 7 / Flowable form field types, and the constraints JSON Schema can say.
_FIELD_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "long": {"type": "integer"},
    "double": {"type": "number"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "enum": {"type": "string"},
}
_CONSTRAINTS = {
    "minlength": "minLength",
    "maxlength": "maxLength",
    "min": "minimum",
    "max": "maximum",
}
# Camunda Forms (the JSON forms Zeebe embeds) component types that collect a value.
_COMPONENT_TYPES: dict[str, dict[str, Any]] = {
    "textfield": {"type": "string"},
    "textarea": {"type": "string"},
    "datetime": {"type": "string"},
    "radio": {"type": "string"},
    "select": {"type": "string"},
    "number": {"type": "number"},
    "checkbox": {"type": "boolean"},
    "checklist": {"type": "array", "items": {"type": "string"}},
    "taglist": {"type": "array", "items": {"type": "string"}},
}
_EMBEDDED_FORM = "camunda-forms:bpmn:"

# Reports a problem with the element whose form is being read.
_OnProblem = Callable[[str], None]


def form_schema(
    element: ET.Element, embedded_forms: dict[str, str], problem: _OnProblem
) -> dict[str, Any] | None:
    """The form of a task or start event as a JSON Schema, in whichever flavour it is;
    `embedded_forms` are the process's embedded Zeebe forms, by id."""
    fields = extension_elements(element, (CAMUNDA,), "formData", "formField")
    fields += extension_elements(element, ACTIVITI_LIKE, "formProperty")
    if fields:
        return _fields_schema(fields, problem)
    zeebe = extension_element(element, (ZEEBE,), "formDefinition")
    reference = activiti_attr(element, "formKey") or activiti_attr(element, "formRef")
    if zeebe is not None:
        key = zeebe.get("formKey", "")
        if key.startswith(_EMBEDDED_FORM) and (
            form := embedded_forms.get(key.removeprefix(_EMBEDDED_FORM))
        ):
            return _camunda_form(form, problem)
        reference = key or zeebe.get("formId") or zeebe.get("externalReference")
    if reference:
        # Without the fields, completions would go unchecked.
        problem(
            f"form {reference!r} is not in the document: describe its fields "
            "(camunda:formData, flowable:formProperty or an embedded Camunda form)"
        )
    return None


def _fields_schema(fields: list[ET.Element], problem: _OnProblem) -> dict[str, Any]:
    """camunda:formField and camunda: / flowable:formProperty."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for field in fields:
        name = field.get("id", "")
        # A custom type (a Java form type) accepts any value.
        schema = dict(_FIELD_TYPES.get(field.get("type", "string"), {}))
        put(schema, "title", field.get("label") or field.get("name"))
        values = [value.get("id", "") for value in field if strip_ns(value.tag) == "value"]
        put(schema, "enum", values)
        default = field.get("defaultValue") or field.get("default")
        if default is not None:
            schema["default"] = _typed(default, schema.get("type"), name, problem)
        if field.get("required") == "true" or _constrain(field, schema, problem):
            required.append(name)
        properties[name] = schema
    return _object_schema(properties, required)


def _constrain(field: ET.Element, schema: dict[str, Any], problem: _OnProblem) -> bool:
    """Adds a camunda:formField's constraints to its schema; True when it is required."""
    required = False
    for constraint in field.iterfind(ns_path(CAMUNDA, "validation", "constraint")):
        name, config = constraint.get("name", ""), constraint.get("config", "")
        if name == "required":
            required = True
        elif name == "readonly":
            schema["readOnly"] = True
        elif name in _CONSTRAINTS:
            schema[_CONSTRAINTS[name]] = _typed(config, "number", field.get("id", ""), problem)
        else:
            problem(f"form field {field.get('id')!r}: constraint {name!r} cannot be checked")
    return required


def _typed(text: str, json_type: object, field: str, problem: _OnProblem) -> Any:
    try:
        if json_type == "integer":
            return int(text)
        if json_type == "number":
            number = float(text)
            return int(number) if number.is_integer() else number
    except ValueError:
        problem(f"form field {field!r}: {text!r} is not a {json_type}")
        return None
    if json_type == "boolean" and text.lower() not in ("true", "false"):
        problem(f"form field {field!r}: {text!r} is not a boolean")
        return None
    return text.lower() == "true" if json_type == "boolean" else text


def _camunda_form(text: str, problem: _OnProblem) -> dict[str, Any] | None:
    """A Camunda Forms JSON document, as Zeebe embeds it, as a JSON Schema."""
    try:
        form = json.loads(text)
    except json.JSONDecodeError as error:
        problem(f"the embedded form is not JSON: {error}")
        return None
    properties: dict[str, Any] = {}
    required: list[str] = []
    for component in _components(form):
        key, kind = component.get("key"), component.get("type")
        if not isinstance(key, str) or kind == "button":
            continue  # layout, text and buttons collect no value
        schema = dict(_COMPONENT_TYPES.get(str(kind), {}))  # any value for other kinds
        put(schema, "title", component.get("label"))
        values = component.get("values")
        if kind in ("radio", "select") and isinstance(values, list):
            put(schema, "enum", [v.get("value") for v in values if isinstance(v, dict)])
        put(schema, "default", component.get("defaultValue"))
        validate = component.get("validate")
        if isinstance(validate, dict) and validate.get("required") is True:
            required.append(key)
        properties[key] = schema
    return _object_schema(properties, required)


def _components(form: Any) -> Iterator[dict[str, Any]]:
    """Every component of a Camunda Forms document, those inside groups included."""
    children = form.get("components") if isinstance(form, dict) else None
    for component in children if isinstance(children, list) else []:
        if isinstance(component, dict):
            yield component
            yield from _components(component)


def _object_schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    put(schema, "required", required)
    return schema
