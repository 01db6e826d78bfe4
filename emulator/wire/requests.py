"""Request bodies of the Assistants API as pydantic models (`wire.validation` parses a body
into one and words its errors as OpenAI does).

Every body is `additionalProperties: false` in the specification, so unknown keys are a 400.
Validation is strict (no "1" for 1), as the real JSON validator is. Union branches carry tags
that start with `~`; they are dropped from the error's `param` path.

An explicit `null` on an optional field means "not given" wherever the real service took it so,
even where the specification marks the field non-nullable (real traffic wins: Marvin 2.x sends
`threads.create(messages=None)` and ran against the real service); those fields are listed in
each body's `null_means_absent`. Fields the specification requires to be non-null when present
and no traffic contradicts (`ranking_options.ranker`, `json_schema.schema`) stay refused.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    model_validator,
)
from pydantic_core import PydanticCustomError

METADATA_MAX_KEYS = 16
METADATA_KEY_MAX = 64
METADATA_VALUE_MAX = 512
# Text limits, in characters. `instructions` is the spec's; the others have no recording:
# message content was raised from 32,768 to 256,000 with v2 (openai/openai-openapi#219), run
# `instructions` / `additional_instructions` share the assistant's limit, and a tool output's
# 512,000 is the figure users reported (inferred).
INSTRUCTIONS_MAX = 256_000
MESSAGE_TEXT_MAX = 256_000
TOOL_OUTPUT_MAX = 512_000


class _Body(BaseModel):
    """A request body (or a part of one). Frozen: a validated body is kept by its bytes and the
    same instance answers every request that sends them (`routes.base.Call.body`)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _NullsAbsent(_Body):
    """A body some of whose fields take an explicit `null` as if the key were not sent."""

    null_means_absent: ClassVar[frozenset[str]]

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict) and None in data.values():
            return {k: v for k, v in data.items() if not (v is None and k in cls.null_means_absent)}
        return data


def _check_metadata(value: Any) -> Any:
    if value is None or not isinstance(value, dict):
        return value  # None is allowed; other types fail the dict check with invalid_type
    if len(value) > METADATA_MAX_KEYS:
        raise PydanticCustomError(
            "object_above_max_properties",
            "Invalid 'metadata': too many properties. Expected an object with at most "
            f"{METADATA_MAX_KEYS} properties, but got an object with {len(value)} properties "
            "instead.",
        )
    for key, item in value.items():
        if len(key) > METADATA_KEY_MAX:
            raise PydanticCustomError(
                "string_above_max_length",
                f"Invalid property name in 'metadata': '{key}' is too long. Expected a string "
                f"with maximum length {METADATA_KEY_MAX}, but got a string with length "
                f"{len(key)} instead.",
            )
        if isinstance(item, str) and len(item) > METADATA_VALUE_MAX:
            raise PydanticCustomError(
                "string_above_max_length",
                f"Invalid 'metadata.{key}': string too long. Expected a string with maximum "
                f"length {METADATA_VALUE_MAX}, but got a string with length {len(item)} instead.",
            )
    return value


Metadata = Annotated[dict[str, str] | None, BeforeValidator(_check_metadata)]


def _str_or_object(value: Any) -> str:
    return "~str" if isinstance(value, str) else "~object"


# --- tools ---------------------------------------------------------------------------------


class FunctionDefinition(_Body):
    name: Annotated[str, Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class FunctionTool(_Body):
    type: Literal["function"]
    function: FunctionDefinition


class RankingOptions(_Body):
    ranker: Literal["auto", "default_2024_08_21"] = "auto"  # [SPEC FileSearchRanker]: no null
    score_threshold: Annotated[float, Field(ge=0, le=1)]


class FileSearchOptions(_Body):
    max_num_results: Annotated[int, Field(ge=1, le=50)] | None = None
    ranking_options: RankingOptions | None = None


class FileSearchTool(_Body):
    type: Literal["file_search"]
    file_search: FileSearchOptions | None = None


class CodeInterpreterTool(_Body):
    type: Literal["code_interpreter"]


def _type_tag(value: Any, default: str) -> str:
    """A union branch by `type`: of the JSON object when validating, of the model when dumping."""
    if isinstance(value, dict | BaseModel):
        kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
        return f"~{kind}"
    return default


def _tool_tag(value: Any) -> str:
    return _type_tag(value, "~function")


def _text_tag(value: Any) -> str:
    """Tag of a content part or response format; a value with no usable type reads as text."""
    return _type_tag(value, "~text")


Tool = Annotated[
    Annotated[FunctionTool, Tag("~function")]
    | Annotated[FileSearchTool, Tag("~file_search")]
    | Annotated[CodeInterpreterTool, Tag("~code_interpreter")],
    Discriminator(_tool_tag),
]


class CodeInterpreterResources(_Body):
    file_ids: Annotated[list[str], Field(max_length=20, default_factory=list)]


class FileSearchResources(_Body):
    vector_store_ids: Annotated[list[str], Field(max_length=1, default_factory=list)]


class ChunkingStrategy(_Body):
    type: Literal["auto", "static"]
    static: dict[str, Any] | None = None


class NewVectorStore(_Body):
    file_ids: Annotated[list[str], Field(max_length=10_000, default_factory=list)]
    chunking_strategy: ChunkingStrategy | None = None
    metadata: Metadata = None


class NewFileSearchResources(FileSearchResources):
    """On create only: `vector_stores` asks the service to make (at most) one vector store."""

    vector_stores: Annotated[list[NewVectorStore], Field(max_length=1)] | None = None


class ToolResources(_Body):
    code_interpreter: CodeInterpreterResources | None = None
    file_search: FileSearchResources | None = None


class NewToolResources(ToolResources):
    """`tool_resources` of assistant and thread creation (with the `vector_stores` helper)."""

    file_search: NewFileSearchResources | None = None


# --- run options ---------------------------------------------------------------------------


class JsonSchemaFormat(_Body):
    name: str
    description: str | None = None
    # [SPEC]: an object, no null
    schema_: Annotated[dict[str, Any], Field(alias="schema", default_factory=dict)]
    strict: bool | None = None


class TextFormat(_Body):
    type: Literal["text"]


class JsonObjectFormat(_Body):
    type: Literal["json_object"]


class JsonSchemaResponseFormat(_Body):
    type: Literal["json_schema"]
    json_schema: JsonSchemaFormat


ResponseFormatObject = Annotated[
    Annotated[TextFormat, Tag("~text")]
    | Annotated[JsonObjectFormat, Tag("~json_object")]
    | Annotated[JsonSchemaResponseFormat, Tag("~json_schema")],
    Discriminator(_text_tag),
]
ResponseFormat = Annotated[
    Annotated[Literal["auto"], Tag("~str")] | Annotated[ResponseFormatObject, Tag("~object")],
    Discriminator(_str_or_object),
]


class NamedFunction(_Body):
    name: str


class NamedToolChoice(_Body):
    type: Literal["function", "code_interpreter", "file_search"]
    function: NamedFunction | None = None

    @model_validator(mode="after")
    def _function_named(self) -> NamedToolChoice:
        if self.type == "function" and self.function is None:
            raise PydanticCustomError(
                "missing_required_parameter",
                "Missing required parameter: '{param}'.",
                {"param": "function"},
            )
        return self


ToolChoice = Annotated[
    Annotated[Literal["none", "auto", "required"], Tag("~str")]
    | Annotated[NamedToolChoice, Tag("~object")],
    Discriminator(_str_or_object),
]


class TruncationStrategy(_Body):
    type: Literal["auto", "last_messages"]
    last_messages: Annotated[int, Field(ge=1)] | None = None


ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]
Temperature = Annotated[float, Field(ge=0, le=2)]
TopP = Annotated[float, Field(ge=0, le=1)]
PromptTokenLimit = Annotated[int, Field(ge=256)]  # [SPEC] min 256; no counter-evidence
# [SPEC] says 256 too, but production took 16 (real-traffic.md §1.8; openai-node PR #1465).
CompletionTokenLimit = Annotated[int, Field(ge=16)]

# --- messages and threads ------------------------------------------------------------------


MessageText = Annotated[str, Field(max_length=MESSAGE_TEXT_MAX)]
Instructions = Annotated[str, Field(max_length=INSTRUCTIONS_MAX)]


class TextPart(_Body):
    type: Literal["text"]
    text: MessageText


class ImageURL(_Body):
    url: Annotated[str, Field(min_length=1)]  # [SPEC MessageContentImageUrlObject]: a URL
    detail: Literal["auto", "low", "high"] | None = None


class ImageURLPart(_Body):
    type: Literal["image_url"]
    image_url: ImageURL


class ImageFile(_Body):
    file_id: str
    detail: Literal["auto", "low", "high"] | None = None


class ImageFilePart(_Body):
    type: Literal["image_file"]
    image_file: ImageFile


ContentPart = Annotated[
    Annotated[TextPart, Tag("~text")]
    | Annotated[ImageURLPart, Tag("~image_url")]
    | Annotated[ImageFilePart, Tag("~image_file")],
    Discriminator(_text_tag),
]

MessageContent = Annotated[
    Annotated[MessageText, Tag("~str")]
    | Annotated[Annotated[list[ContentPart], Field(min_length=1)], Tag("~object")],
    Discriminator(_str_or_object),
]


class AttachmentTool(_Body):
    type: Literal["code_interpreter", "file_search"]


class Attachment(_Body):
    file_id: str
    tools: list[AttachmentTool] = Field(default_factory=list)


class CreateMessage(_Body):
    role: Literal["user", "assistant"]
    content: MessageContent
    attachments: list[Attachment] | None = None
    metadata: Metadata = None


class CreateThread(_NullsAbsent):
    null_means_absent = frozenset({"messages"})  # Marvin 2.x: threads.create(messages=None)

    messages: list[CreateMessage] = Field(default_factory=list)
    tool_resources: NewToolResources | None = None
    metadata: Metadata = None


class ModifyThread(_Body):
    tool_resources: ToolResources | None = None
    metadata: Metadata = None


class ModifyMetadata(_Body):
    """Body of message and run modification: only `metadata` may change."""

    metadata: Metadata = None


# --- assistants ----------------------------------------------------------------------------


class _AssistantFields(_NullsAbsent):
    null_means_absent = frozenset({"tools"})

    name: Annotated[str, Field(max_length=256)] | None = None
    description: Annotated[str, Field(max_length=512)] | None = None
    instructions: Instructions | None = None
    reasoning_effort: ReasoningEffort | None = None
    tools: Annotated[list[Tool], Field(max_length=128, default_factory=list)]
    tool_resources: ToolResources | None = None
    metadata: Metadata = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    response_format: ResponseFormat | None = None


class CreateAssistant(_AssistantFields):
    model: str
    tool_resources: NewToolResources | None = None


class ModifyAssistant(_AssistantFields):
    null_means_absent = frozenset({"model", "tools"})

    model: str = ""  # unset fields are never dumped


# --- runs ----------------------------------------------------------------------------------


class _RunFields(_Body):
    assistant_id: str
    model: str | None = None
    instructions: Instructions | None = None
    tools: Annotated[list[Tool], Field(max_length=20)] | None = None
    metadata: Metadata = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    stream: bool | None = None
    max_prompt_tokens: PromptTokenLimit | None = None
    max_completion_tokens: CompletionTokenLimit | None = None
    truncation_strategy: TruncationStrategy | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None


class CreateRun(_RunFields):
    reasoning_effort: ReasoningEffort | None = None
    additional_instructions: Instructions | None = None
    additional_messages: list[CreateMessage] | None = None


class CreateThreadAndRun(_RunFields):
    thread: CreateThread | None = None
    tool_resources: ToolResources | None = None


class ToolOutput(_Body):
    tool_call_id: str
    output: Annotated[str, Field(max_length=TOOL_OUTPUT_MAX)]


class SubmitToolOutputs(_Body):
    tool_outputs: list[ToolOutput]
    stream: bool | None = None
