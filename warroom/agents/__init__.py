"""The agent interface: an MCP server so AI assistants take incident roles under the policy.

`warroom mcp` serves it over stdio; `warroom serve` mounts it over streamable HTTP at `/mcp`.
Every tool calls warroom's own REST API with the agent's token, so an agent meets exactly the
scopes, guards and policy rules a person meets, plus the policy's `agents` rules.
"""
