"""Wire error families: each exception knows its HTTP status, headers and OpenAI error envelope.

Every error the emulator answers with is one of these, raised where the rule lives and rendered
once, by `http.pipeline`.
"""

from __future__ import annotations

from typing import Any

SERVER_ERROR_MESSAGE = "The server had an error while processing your request. Sorry about that!"


class APIError(Exception):
    """Base of every error the emulator answers with; rendered once, by the pipeline."""

    status: int = 400
    type: str = "invalid_request_error"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        if status is not None:
            self.status = status
        self.headers: dict[str, str] = dict(headers or {})  # extra response headers

    def body(self) -> dict[str, Any]:
        """The OpenAI error envelope."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequestError(APIError):
    """400: a malformed body, a bad parameter or a broken rule (never 409: the SDK retries it)."""

    status = 400


class NotFoundError(APIError):
    """404: unknown object or path."""

    status = 404


class AuthenticationError(APIError):
    """401: missing or rejected API key."""

    status = 401


class MethodNotAllowedError(APIError):
    """405: a known path called with a method it does not have."""

    status = 405


class RateLimitError(APIError):
    """429: too many requests (the real service's `type` is `requests`)."""

    status = 429
    type = "requests"


class ServerError(APIError):
    """5xx: the service failed (500 unless told otherwise, e.g. 502 or 503)."""

    status = 500
    type = "server_error"


def not_found(kind: str, object_id: str) -> NotFoundError:
    """The real service's 404 text, which names the id (`No thread found with id 'x'.`)."""
    return NotFoundError(f"No {kind} found with id '{object_id}'.")


def internal_error() -> ServerError:
    """What a bug in the emulator answers, as the real service would."""
    return ServerError(SERVER_ERROR_MESSAGE, code="server_error")
