"""The MCP server: tools, resources and role prompts over the agent's view of the REST API.

One builder serves both transports. The caller passes `gateway_for(request)`, which returns
the REST gateway for the agent behind an MCP request (stdio: the one agent of the process;
HTTP: the bearer token of that HTTP request). A middleware binds it for the request, so tools,
resources and prompts all act as that agent.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable
from typing import Any

from mcp.server.context import CallNext, ServerRequestContext
from mcp.server.context import HandlerResult as _HandlerResult
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from mcp_types import CallToolResult, TextContent, ToolAnnotations

from warroom import __version__
from warroom.agents import context, prompts
from warroom.agents.gateway import Gateway, Refusal
from warroom.agents.tools import TOOLS, ToolSpec
from warroom.policy import Policy

GatewayFor = Callable[[Any], Gateway | None]

INSTRUCTIONS = (
    "warroom runs incidents by the team's policy. You act as the agent named by your token; "
    "every action lands on the incident's timeline as agent:<name>. Read the policy "
    "(resource warroom://policy or get_policy) and a role prompt (commander, investigator, "
    "communications) before you act. When a tool is refused, the result names the rule that "
    "refused it: tell a person, do not work around it."
)


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1, default=str)


def _as_mcp_tool(spec: ToolSpec) -> Callable[..., Any]:
    """Run the tool; turn a refusal into a tool error carrying the rule (code + message)."""

    @functools.wraps(spec.fn)
    async def run(**kwargs: Any) -> CallToolResult:
        try:
            data = await spec.fn(**kwargs)
        except Refusal as refusal:
            return CallToolResult(
                content=[TextContent(type="text", text=refusal.text())],
                structured_content=refusal.to_dict(),
                is_error=True,
            )
        return CallToolResult(
            content=[TextContent(type="text", text=_json(data))], structured_content=data
        )

    return run


def _scope_filter() -> Callable[..., Any]:
    """Middleware: bind the agent for the request; list only the tools its scopes allow."""

    async def middleware(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> Any:
        result: _HandlerResult = await call_next(ctx)
        if ctx.method != "tools/list" or result is None:
            return result
        try:
            me = await context.api().get("/agents/me")
        except (Refusal, RuntimeError):
            return result
        scopes = set(me.get("effective_scopes") or [])
        tools = result.get("tools") if isinstance(result, dict) else getattr(result, "tools", None)
        if tools is None:
            return result

        def allowed(tool: Any) -> bool:
            meta = tool.get("_meta") if isinstance(tool, dict) else getattr(tool, "meta", None)
            scope = (meta or {}).get("warroom/scope")
            return scope is None or scope in scopes

        kept = [t for t in tools if allowed(t)]
        if isinstance(result, dict):
            return {**result, "tools": kept}
        return result.model_copy(update={"tools": kept})

    return middleware


def _binder(gateway_for: GatewayFor) -> Callable[..., Any]:
    async def middleware(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> Any:
        token = context.bind(gateway_for(ctx.request))
        try:
            return await call_next(ctx)
        finally:
            context.unbind(token)

    return middleware


async def _policy() -> Policy:
    return Policy.model_validate(await context.api().get("/policy"))


def build_server(gateway_for: GatewayFor) -> MCPServer[Any]:
    """The warroom MCP server (no transport attached yet)."""
    server: MCPServer[Any] = MCPServer(
        "warroom",
        title="warroom incident response",
        instructions=INSTRUCTIONS,
        version=__version__,
        log_level="WARNING",
    )
    server.middleware.append(_binder(gateway_for))
    server.middleware.append(_scope_filter())
    for spec in TOOLS:
        server.add_tool(
            _as_mcp_tool(spec),
            name=spec.name,
            title=spec.title,
            description=inspect.cleandoc(spec.fn.__doc__ or "")
            + f"\n\nNeeds the '{spec.scope}' scope.",
            annotations=ToolAnnotations(
                title=spec.title,
                read_only_hint=spec.read_only,
                destructive_hint=spec.destructive,
                idempotent_hint=spec.read_only,
                open_world_hint=False,
            ),
            meta={"warroom/scope": spec.scope},
        )

    @server.resource(
        "warroom://policy",
        name="policy",
        title="The incident policy",
        description="Severities, targets, cadence, roles, escalation, checklist, agent rules.",
        mime_type="application/json",
    )
    async def policy_resource() -> str:
        try:
            return _json(await context.api().get("/policy"))
        except Refusal as refusal:
            raise ResourceError(refusal.text()) from None

    @server.resource(
        "warroom://incidents",
        name="open-incidents",
        title="Open incidents",
        description="The open incidents, most recent first (id, title, severity, status).",
        mime_type="application/json",
    )
    async def open_incidents_resource() -> str:
        try:
            return _json(await context.api().get("/incidents", open="true", limit=100))
        except Refusal as refusal:
            raise ResourceError(refusal.text()) from None

    @server.resource(
        "warroom://incidents/{incident}",
        name="incident",
        title="An incident: state and timeline",
        description="The incident as warroom shows it, with every event on its timeline.",
        mime_type="application/json",
    )
    async def incident_resource(incident: str) -> str:
        gateway = context.api()
        try:
            state = await gateway.get(f"/incidents/{incident}")
            timeline = await gateway.get(f"/incidents/{incident}/timeline")
        except Refusal as refusal:
            raise ResourceError(refusal.text()) from None
        return _json({"incident": state, "timeline": timeline["events"]})

    def add_role_prompt(role: prompts.RoleName, title: str, description: str) -> None:
        async def render(incident: str = "") -> str:
            try:
                policy = await _policy()
                view = await context.api().get(f"/incidents/{incident}") if incident else None
            except Refusal as refusal:
                raise ValueError(refusal.text()) from None
            return prompts.role_prompt(role, policy, view)

        render.__doc__ = description
        server.prompt(name=role, title=title, description=description)(render)

    add_role_prompt(
        "commander",
        "Incident commander",
        "Coordinate the incident under the policy: triage, roles, status, cadence, resolution. "
        "Argument: incident (optional id) to include its current state.",
    )
    add_role_prompt(
        "investigator",
        "Investigator",
        "Find and mitigate the cause; record findings as notes. Argument: incident (optional id).",
    )
    add_role_prompt(
        "communications",
        "Communications lead",
        "Keep stakeholders updated on the policy's cadence; draft, a person publishes unless "
        "the policy allows agents to. Argument: incident (optional id).",
    )
    return server
