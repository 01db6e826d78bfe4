"""Wire error families: each exception knows its HTTP status and OpenAI error envelope."""

from __future__ import annotations

from typing import Any


class APIError(Exception):
    """Base of every error the emulator answers with; rendered once, by the routes."""

    status: int = 400
    type: str = "invalid_request_error"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code

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


def not_found(kind: str, object_id: str) -> NotFoundError:
    """The real service's 404 text, which names the id (`No thread found with id 'x'.`)."""
    return NotFoundError(f"No {kind} found with id '{object_id}'.")
