"""The attribute names audit events carry in `payload.attributes`: OpenTelemetry GenAI semantic conventions
where one fits, and auditledger's own (`langchain.*`, `langgraph.*`, timings) where none does.

One place for the names, so the handler, the README and the analysts' SQL agree
(https://opentelemetry.io/docs/specs/semconv/gen-ai/). Values are strings: the schema's map is string to string.
"""

from __future__ import annotations

# -- OpenTelemetry GenAI ---------------------------------------------------------------------------
OPERATION_NAME = "gen_ai.operation.name"
PROVIDER_NAME = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
REQUEST_TEMPERATURE = "gen_ai.request.temperature"
REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
REQUEST_TOP_P = "gen_ai.request.top_p"
REQUEST_STOP_SEQUENCES = "gen_ai.request.stop_sequences"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_ID = "gen_ai.response.id"
RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
TOOL_NAME = "gen_ai.tool.name"
TOOL_CALL_ID = "gen_ai.tool.call.id"
TOOL_DESCRIPTION = "gen_ai.tool.description"
AGENT_NAME = "gen_ai.agent.name"
CONVERSATION_ID = "gen_ai.conversation.id"
DATA_SOURCE_ID = "gen_ai.data_source.id"

# Values of gen_ai.operation.name
OP_CHAT = "chat"
OP_TEXT_COMPLETION = "text_completion"
OP_EXECUTE_TOOL = "execute_tool"
OP_INVOKE_AGENT = "invoke_agent"
OP_RETRIEVAL = "retrieval"  # not (yet) an OTel value; the closest description of a retriever run

# -- auditledger's own -----------------------------------------------------------------------------
STARTED_AT = "started_at"  # ISO 8601 UTC start of the run, on end events
DURATION_MS = "duration_ms"  # end minus start, milliseconds, on end events
RUN_NAME = "langchain.run_name"
RUN_TAGS = "langchain.tags"
DOCUMENT_COUNT = "langchain.retriever.documents"
GRAPH_STEP = "langgraph.step"
GRAPH_TRIGGERS = "langgraph.triggers"
GRAPH_INPUT_KEYS = "langgraph.state_keys"  # on node.start: the state keys the node was given
GRAPH_CHANGED_KEYS = "langgraph.state_keys_changed"  # on node.end: the keys of the node's update
