"""Request bodies of the Assistants API as pydantic models, and their errors in OpenAI's words.

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

import json
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .errors import InvalidRequestError

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
    model_config = ConfigDict(extra="forbid", strict=True)
    null_means_absent: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, data: Any) -> Any:
        """An explicit `null` on a `null_means_absent` field is as if the key were not sent."""
        if cls.null_means_absent and isinstance(data, dict):
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
    file_ids: Annotated[list[str], Field(max_length=20)] = []


class FileSearchResources(_Body):
    vector_store_ids: Annotated[list[str], Field(max_length=1)] = []


class ChunkingStrategy(_Body):
    type: Literal["auto", "static"]
    static: dict[str, Any] | None = None


class NewVectorStore(_Body):
    file_ids: Annotated[list[str], Field(max_length=10_000)] = []
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
    schema_: Annotated[dict[str, Any], Field(alias="schema")] = {}  # [SPEC]: an object, no null
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
    tools: list[AttachmentTool] = []


class CreateMessage(_Body):
    role: Literal["user", "assistant"]
    content: MessageContent
    attachments: list[Attachment] | None = None
    metadata: Metadata = None


class CreateThread(_Body):
    null_means_absent = frozenset({"messages"})  # Marvin 2.x: threads.create(messages=None)

    messages: list[CreateMessage] = []
    tool_resources: NewToolResources | None = None
    metadata: Metadata = None


class ModifyThread(_Body):
    tool_resources: ToolResources | None = None
    metadata: Metadata = None


class ModifyMetadata(_Body):
    """Body of message and run modification: only `metadata` may change."""

    metadata: Metadata = None


# --- assistants ----------------------------------------------------------------------------


class _AssistantFields(_Body):
    null_means_absent = frozenset({"tools"})

    name: Annotated[str, Field(max_length=256)] | None = None
    description: Annotated[str, Field(max_length=512)] | None = None
    instructions: Instructions | None = None
    reasoning_effort: ReasoningEffort | None = None
    tools: Annotated[list[Tool], Field(max_length=128)] = []
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


# --- parsing -------------------------------------------------------------------------------

BodyT = TypeVar("BodyT", bound=BaseModel)

_TYPE_NAMES: dict[type, str] = {
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "an object",
    type(None): "null",
}


def type_name(value: Any) -> str:
    """How the real validator names the JSON type of `value` (`an object`, `null`, ...)."""
    return _TYPE_NAMES.get(type(value), "a value")


_EXPECTED: dict[str, str] = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "a boolean",
    "list_type": "an array",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
}


def param_path(loc: tuple[int | str, ...]) -> str:
    """`('messages', 0, '~object', 'content')` -> `messages[0].content`."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not part.startswith("~"):
            path += f".{part}" if path else part
    return path


def _quote_values(values: list[str]) -> str:
    quoted = [f"'{v}'" for v in values]
    if len(quoted) <= 1:
        return "".join(quoted)
    return (
        ", ".join(quoted[:-1]) + f", and {quoted[-1]}" if len(quoted) > 2 else " and ".join(quoted)
    )


def translate(error: ValidationError) -> InvalidRequestError:
    """The first pydantic error, worded as the real service words it."""
    first = error.errors(include_url=False)[0]
    kind, loc, value = first["type"], tuple(first["loc"]), first.get("input")
    param = param_path(loc)
    ctx: dict[str, Any] = first.get("ctx") or {}
    shown = json.dumps(value) if not isinstance(value, str) else value
    if kind == "extra_forbidden":
        return InvalidRequestError(
            f"Unknown parameter: '{param}'.", param=param, code="unknown_parameter"
        )
    if kind == "missing":
        return InvalidRequestError(
            f"Missing required parameter: '{param}'.",
            param=param,
            code="missing_required_parameter",
        )
    if kind in _EXPECTED:
        got = type_name(value)
        return InvalidRequestError(
            f"Invalid type for '{param}': expected {_EXPECTED[kind]}, but got {got} instead.",
            param=param,
            code="invalid_type",
        )
    if kind == "string_too_long":
        limit = ctx.get("max_length")
        return InvalidRequestError(
            f"Invalid '{param}': string too long. Expected a string with maximum length "
            f"{limit}, but got a string with length {len(value)} instead.",
            param=param,
            code="string_above_max_length",
        )
    if kind in ("too_long", "too_short"):
        limit = ctx.get("max_length" if kind == "too_long" else "min_length")
        word = "long" if kind == "too_long" else "short"
        bound = "maximum" if kind == "too_long" else "minimum"
        return InvalidRequestError(
            f"Invalid '{param}': array too {word}. Expected an array with {bound} length "
            f"{limit}, but got an array with length {len(value)} instead.",
            param=param,
            code=f"array_{'above_max' if kind == 'too_long' else 'below_min'}_length",
        )
    if kind in ("greater_than_equal", "less_than_equal"):
        if kind == "greater_than_equal":
            text, sign, code = "below minimum", ">=", "below_min_value"
            edge = ctx.get("ge")
        else:
            text, sign, code = "above maximum", "<=", "above_max_value"
            edge = ctx.get("le")
        number = "decimal" if isinstance(edge, float) else "integer"
        if isinstance(edge, float) and edge.is_integer():
            edge = int(edge)
        return InvalidRequestError(
            f"Invalid '{param}': {number} {text} value. Expected a value {sign} {edge}, "
            f"but got {shown} instead.",
            param=param,
            code=f"{number}_{code}",
        )
    if kind in ("literal_error", "enum"):
        expected = ctx.get("expected", "")
        options = [part.strip(" '") for part in expected.replace(" or ", ",").split(",") if part]
        return InvalidRequestError(
            f"Invalid value: '{shown}'. Supported values are: {_quote_values(options)}.",
            param=param,
            code="invalid_value",
        )
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tags = [tag.strip(" '~") for tag in str(ctx.get("expected_tags", "")).split(",")]
        tag = value.get("type") if isinstance(value, dict) else None
        if tag is None:
            where = f"{param}.type" if param else "type"
            return InvalidRequestError(
                f"Missing required parameter: '{where}'.",
                param=where,
                code="missing_required_parameter",
            )
        return InvalidRequestError(
            f"Invalid value: '{tag}'. Supported values are: {_quote_values(tags)}.",
            param=f"{param}.type" if param else "type",
            code="invalid_value",
        )
    if kind == "missing_required_parameter":
        where = f"{param}.{ctx['param']}" if param else str(ctx["param"])
        return InvalidRequestError(
            f"Missing required parameter: '{where}'.", param=where, code=kind
        )
    if kind == "string_pattern_mismatch":
        return InvalidRequestError(
            f"Invalid '{param}': string does not match pattern. Expected a string that matches "
            f"the pattern '{ctx.get('pattern')}'.",
            param=param,
            code="invalid_value",
        )
    if kind in ("object_above_max_properties", "string_above_max_length"):
        if kind == "string_above_max_length" and loc and loc[-1] == "metadata":
            param = f"metadata.{_long_key(value)}"
        return InvalidRequestError(first["msg"], param=param, code=kind)
    return InvalidRequestError(
        f"Invalid '{param}': {first['msg']}.", param=param, code="invalid_value"
    )


def _long_key(metadata: Any) -> str:
    if isinstance(metadata, dict):
        for key, item in metadata.items():
            if len(key) > METADATA_KEY_MAX or (
                isinstance(item, str) and len(item) > METADATA_VALUE_MAX
            ):
                return str(key)
    return ""


def _error(error: ValidationError) -> InvalidRequestError:
    translated = translate(error)
    translated.param = translated.param or None
    return translated


def parse(model: type[BodyT], data: Any) -> BodyT:
    """Validate a decoded JSON body; raise the OpenAI-shaped 400 on the first problem."""
    if not isinstance(data, dict):
        raise InvalidRequestError(
            "Invalid body: expected a JSON object.", param=None, code="invalid_type"
        )
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise _error(error) from None
