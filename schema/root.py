"""The GraphQL schema: Query, Mutation and Subscription assembled from the domains."""

from __future__ import annotations

from collections.abc import Callable

import strawberry
from graphql import GraphQLError
from strawberry import relay
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.disable_introspection import DisableIntrospection
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from api.settings import Settings
from resolvers import archive as archive_resolvers
from resolvers import definitions as definition_resolvers
from resolvers import instances as instance_resolvers
from resolvers import nodes as node_resolvers
from resolvers import reports as report_resolvers
from resolvers import tasks as task_resolvers
from resolvers import users as user_resolvers
from schema.archive import ArchivedInstance
from schema.common import JSON
from schema.definitions import DefinitionProblem, ProcessDefinition
from schema.errors import PARSE_FAILED, ErrorCodes
from schema.inputs import InputHygiene
from schema.instances import InstanceEvent, ProcessInstance
from schema.log_context import OperationLogContext
from schema.metrics import OperationMetrics
from schema.reports import DefinitionStats, ThroughputPoint
from schema.tasks import Task, TaskComment, TaskCounts, TaskEvent
from schema.users import AuditEntryConnection, AuthPayload, Group, Role, User


@strawberry.type(description="Reading definitions, instances, tasks and people.")
class Query:
    node: relay.Node | None = strawberry.field(
        resolver=node_resolvers.node, description="Any object by its global id."
    )
    me: User = strawberry.field(resolver=user_resolvers.me, description="The caller.")
    process_definitions: relay.Connection[ProcessDefinition] = strawberry.field(
        resolver=definition_resolvers.process_definitions,
        description="Deployed definitions by key; the newest version of each key unless latestOnly is false.",
    )
    process_definition: ProcessDefinition | None = strawberry.field(
        resolver=definition_resolvers.process_definition,
        description="One definition version; the latest when version is omitted.",
    )
    process_instance: ProcessInstance | None = strawberry.field(
        resolver=instance_resolvers.process_instance, description="One process instance."
    )
    process_instances: relay.Connection[ProcessInstance] = strawberry.field(
        resolver=instance_resolvers.process_instances,
        description="Instances the caller may see, newest first.",
    )
    definition_schema: JSON = strawberry.field(
        resolver=definition_resolvers.definition_schema,
        description="The JSON Schema of the definition format.",
    )
    validate_definition: list[DefinitionProblem] = strawberry.field(
        resolver=definition_resolvers.validate_definition,
        description="Every problem of a definition (JSON or BPMN 2.0 XML), without deploying it.",
    )
    export_definition: JSON = strawberry.field(
        resolver=definition_resolvers.export_definition,
        description="A deployed version as its JSON document (the latest when version is omitted).",
    )
    tasks: relay.Connection[Task] = strawberry.field(
        resolver=task_resolvers.tasks,
        description="The caller's inbox: open tasks assigned to them or that they may claim, newest first.",
    )
    task: Task | None = strawberry.field(resolver=task_resolvers.task, description="One task.")
    archived_instances: relay.Connection[ArchivedInstance] = strawberry.field(
        resolver=archive_resolvers.archived_instances,
        description="Archived instances the caller may see (admins all, others those they started), most recently ended first.",
    )
    definition_stats: DefinitionStats = strawberry.field(
        resolver=report_resolvers.definition_stats,
        description="How a definition's instances started in a window fared, and where their time went.",
    )
    throughput: list[ThroughputPoint] = strawberry.field(
        resolver=report_resolvers.throughput,
        description="Instances of a definition started and completed per interval (ISO 8601, e.g. PT1H).",
    )
    task_counts: TaskCounts = strawberry.field(
        resolver=task_resolvers.task_counts, description="The inbox badges."
    )
    # Administration of people and roles (needs user:admin).
    users: relay.Connection[User] = strawberry.field(
        resolver=user_resolvers.users, description="Every account by username (user:admin)."
    )
    roles: list[Role] = strawberry.field(
        resolver=user_resolvers.roles,
        description="The built-in and custom roles and their permissions (user:admin).",
    )
    audit_log: AuditEntryConnection = strawberry.field(
        resolver=user_resolvers.audit_log,
        description="Changes to people, groups and roles, newest first; of one user when "
        "userId is given (user:admin).",
    )


@strawberry.type(description="Changing things.")
class Mutation:
    login: AuthPayload = strawberry.mutation(
        resolver=user_resolvers.login,
        description="Exchange a password for an access token and a refresh token.",
    )
    refresh_token: AuthPayload = strawberry.mutation(
        resolver=user_resolvers.refresh_token,
        description="Spend a refresh token for a new pair (it rotates). A refresh token"
        " spent twice ends its whole session: it was copied.",
    )
    logout: bool = strawberry.mutation(
        resolver=user_resolvers.logout,
        description="End the caller's session: its refresh tokens and this access token"
        " stop working.",
    )
    deploy_definition: ProcessDefinition = strawberry.mutation(
        resolver=definition_resolvers.deploy_definition,
        description="Validate and deploy a definition as the next version of its key.",
    )
    add_definition_owner: ProcessDefinition = strawberry.mutation(
        resolver=definition_resolvers.add_definition_owner,
        description="Let a user deploy new versions of a key too (its owners and admins may).",
    )
    start_process: ProcessInstance = strawberry.mutation(
        resolver=instance_resolvers.start_process,
        description="Start an instance of a definition (its latest version unless one is given).",
    )
    suspend_instance: ProcessInstance = strawberry.mutation(
        resolver=instance_resolvers.suspend_instance,
        description="Pause an instance: no task completes and no step is taken until resumed.",
    )
    resume_instance: ProcessInstance = strawberry.mutation(
        resolver=instance_resolvers.resume_instance,
        description="Go on with a suspended instance; timers that fired meanwhile apply now.",
    )
    cancel_instance: ProcessInstance = strawberry.mutation(
        resolver=instance_resolvers.cancel_instance,
        description="Cancel an instance: open tasks, timers, services and children are cancelled.",
    )
    terminate_instance: ProcessInstance = strawberry.mutation(
        resolver=instance_resolvers.terminate_instance,
        description="Stop an instance and its children at once, without cleanup in the workflow.",
    )
    set_instance_variables: ProcessInstance = strawberry.mutation(
        resolver=instance_resolvers.set_instance_variables,
        description="Merge variables into a running instance's.",
    )
    send_message: ProcessInstance = strawberry.mutation(
        resolver=instance_resolvers.send_message,
        description="Deliver a message to the instance (by id or business key) that waits for it.",
    )
    retry_incident: ProcessInstance = strawberry.mutation(
        resolver=instance_resolvers.retry_incident,
        description="Run again what failed in an instance in INCIDENT.",
    )
    suspend_definition: ProcessDefinition = strawberry.mutation(
        resolver=definition_resolvers.suspend_definition,
        description="Stop new starts of a version (or every version) of a definition (admin).",
    )
    activate_definition: ProcessDefinition = strawberry.mutation(
        resolver=definition_resolvers.activate_definition,
        description="Allow new starts of a suspended definition again (admin).",
    )
    claim_task: Task = strawberry.mutation(
        resolver=task_resolvers.claim_task, description="Take a task as its assignee."
    )
    unclaim_task: Task = strawberry.mutation(
        resolver=task_resolvers.unclaim_task, description="Give a held task back to its candidates."
    )
    assign_task: Task = strawberry.mutation(
        resolver=task_resolvers.assign_task,
        description="Hand a task to a user (its assignee or an admin may).",
    )
    delegate_task: Task = strawberry.mutation(
        resolver=task_resolvers.delegate_task,
        description="Ask a user to do the work; the task returns to its owner on resolveTask.",
    )
    resolve_task: Task = strawberry.mutation(
        resolver=task_resolvers.resolve_task,
        description="The delegate gives the task back to its owner, with variables.",
    )
    set_task_priority: Task = strawberry.mutation(
        resolver=task_resolvers.set_task_priority, description="Change a task's priority (0-100)."
    )
    set_task_due_date: Task = strawberry.mutation(
        resolver=task_resolvers.set_task_due_date, description="Change or clear a task's due date."
    )
    set_task_follow_up: Task = strawberry.mutation(
        resolver=task_resolvers.set_task_follow_up,
        description="Change or clear when to look at a task again.",
    )
    add_task_comment: TaskComment = strawberry.mutation(
        resolver=task_resolvers.add_task_comment, description="Remark on a task."
    )
    complete_task: Task = strawberry.mutation(
        resolver=task_resolvers.complete_task,
        description="Complete a task with the variables of its form; the instance moves on.",
    )
    create_user: User = strawberry.mutation(
        resolver=user_resolvers.create_user, description="Create a user (admin)."
    )
    create_group: Group = strawberry.mutation(
        resolver=user_resolvers.create_group, description="Create a group (admin)."
    )
    add_group_member: Group = strawberry.mutation(
        resolver=user_resolvers.add_group_member, description="Add a user to a group (admin)."
    )
    remove_group_member: Group = strawberry.mutation(
        resolver=user_resolvers.remove_group_member,
        description="Remove a user from a group (admin).",
    )
    update_user: User = strawberry.mutation(
        resolver=user_resolvers.update_user,
        description="Change a user's display name or e-mail; omitted arguments keep theirs (user:admin).",
    )
    deactivate_user: User = strawberry.mutation(
        resolver=user_resolvers.deactivate_user,
        description="Stop a user from logging in; their tokens are refused from now on (user:admin).",
    )
    change_password: User = strawberry.mutation(
        resolver=user_resolvers.change_password,
        description="Change the caller's own password, given the current one.",
    )
    create_role: Role = strawberry.mutation(
        resolver=user_resolvers.create_role,
        description="Define a custom role as a set of permissions (user:admin).",
    )
    grant_role: User = strawberry.mutation(
        resolver=user_resolvers.grant_role, description="Give a user a role (user:admin)."
    )
    revoke_role: User = strawberry.mutation(
        resolver=user_resolvers.revoke_role, description="Take a role from a user (user:admin)."
    )


@strawberry.type(description="Live updates over graphql-transport-ws.")
class Subscription:
    task_events: TaskEvent = strawberry.subscription(  # type: ignore[assignment]
        resolver=task_resolvers.task_events,
        description="Changes to the tasks that concern the caller; resume after a cursor with since.",
    )
    instance_events: InstanceEvent = strawberry.subscription(  # type: ignore[assignment]
        resolver=instance_resolvers.instance_events,
        description="One instance's trace as it happens; resume after a seq with since.",
    )


class FlowdeskSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Strawberry logs every error with its traceback. A refused input or a conflict is
        the caller's answer, not a fault; ErrorCodes codes the errors and logs the
        unexpected ones itself.

        A document that does not parse never reaches ErrorCodes: it gets its code here."""
        if execution_context is not None and execution_context.graphql_document is not None:
            return
        for error in errors:
            if not (error.extensions or {}).get("code"):
                error.extensions = {**(error.extensions or {}), "code": PARSE_FAILED}


def build_schema(settings: Settings) -> strawberry.Schema:
    # The limit rules are built once, so that validating a document the server has seen
    # before is a cache hit (the cache key holds the rules); the extensions themselves are
    # factories, made afresh for every operation.
    limits = [
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=30).validation_rules,
    ]
    extensions: list[Callable[[], SchemaExtension]] = [
        # Listed first, so it leaves last and sees the errors with their codes.
        OperationMetrics,
        OperationLogContext,
        lambda: ErrorCodes(hide_suggestions=not settings.introspection),
        lambda: InputHygiene(max_depth=settings.max_json_depth),
        lambda: MaxTokensLimiter(max_token_count=5000),
        lambda: ParserCache(maxsize=512),
        lambda: AddValidationRules(limits),
        lambda: ValidationCache(maxsize=512),
    ]
    if not settings.introspection:
        extensions.append(DisableIntrospection)
    return FlowdeskSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(auto_camel_case=True),
    )
