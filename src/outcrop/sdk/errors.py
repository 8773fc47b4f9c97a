"""The SDK's exceptions: one base class to catch, and Bedrock's error codes as subclasses that keep
what a support ticket needs (code, message, HTTP status, request id) without digging in botocore's
response dict."""

from __future__ import annotations

from typing import Any


class AssistantError(Exception):
    """Base of every exception the SDK raises on purpose."""


class UnsupportedModelError(AssistantError, ValueError):
    """The model id is not one whose request body the SDK knows for this capability."""


class UnsupportedOptionError(AssistantError, ValueError):
    """An option the chosen model family has no field for (e.g. `style` on Titan Image Generator)."""


class ExtractionError(AssistantError):
    """`extract` got no valid JSON after its repair round; `text` is the last answer, `errors` why."""

    def __init__(self, message: str, text: str, errors: list[str]) -> None:
        super().__init__(message)
        self.text = text
        self.errors = errors


class SearchFailedError(AssistantError):
    """The image-search route refused the query (no such collection, bad input, ...)."""


class BedrockServiceError(AssistantError):
    """A call that Bedrock (or outcrop) answered with an error; wraps botocore's `ClientError`,
    which stays reachable as `__cause__` and `.client_error`."""

    def __init__(self, code: str, message: str, status: int | None, request_id: str | None,
                 operation: str | None = None, model_id: str | None = None, client_error: Exception | None = None) -> None:
        where = f" ({operation} {model_id})" if operation and model_id else ""
        super().__init__(f"{code}: {message}{where} [request id {request_id or 'unknown'}]")
        self.code = code
        self.message = message
        self.status = status
        self.request_id = request_id
        self.operation = operation
        self.model_id = model_id
        self.client_error = client_error

    @property
    def retryable(self) -> bool:
        """Whether waiting and sending the same request again may succeed."""
        return isinstance(self, (ThrottlingError, ModelNotReadyError, ModelTimeoutError, ServiceUnavailableError,
                                 InternalServerError))


class ThrottlingError(BedrockServiceError):
    """ThrottlingException (429): too many requests or tokens; botocore already retried it."""


class ModelNotReadyError(BedrockServiceError):
    """ModelNotReadyException (429): the model is loading; botocore already retried it."""


class ModelTimeoutError(BedrockServiceError):
    """ModelTimeoutException (408): the model took too long; the SDK already retried it."""


class ServiceUnavailableError(BedrockServiceError):
    """ServiceUnavailableException (503)."""


class InternalServerError(BedrockServiceError):
    """InternalServerException (500)."""


class ValidationError(BedrockServiceError, ValueError):
    """ValidationException (400): the request body was refused; fix the input."""


class AccessDeniedError(BedrockServiceError):
    """AccessDeniedException (403): credentials, IAM policy, or model access not granted."""


class ResourceNotFoundError(BedrockServiceError):
    """ResourceNotFoundException (404): unknown model id (or, on outcrop, weights not pulled)."""


class ModelError(BedrockServiceError):
    """ModelErrorException / ModelStreamErrorException (424): the model failed on this input."""


class ServiceQuotaExceededError(BedrockServiceError):
    """ServiceQuotaExceededException: an account quota is exhausted."""


_BY_CODE: dict[str, type[BedrockServiceError]] = {
    "ThrottlingException": ThrottlingError,
    "ModelNotReadyException": ModelNotReadyError,
    "ModelTimeoutException": ModelTimeoutError,
    "ServiceUnavailableException": ServiceUnavailableError,
    "InternalServerException": InternalServerError,
    "ValidationException": ValidationError,
    "AccessDeniedException": AccessDeniedError,
    "ResourceNotFoundException": ResourceNotFoundError,
    "ModelErrorException": ModelError,
    "ModelStreamErrorException": ModelError,
    "ServiceQuotaExceededException": ServiceQuotaExceededError,
}


def from_client_error(exc: Any, model_id: str | None = None) -> BedrockServiceError:
    """The SDK exception for a botocore `ClientError` (or `EventStreamError`, its subclass)."""
    response: dict[str, Any] = getattr(exc, "response", {}) or {}
    error = response.get("Error", {})
    meta = response.get("ResponseMetadata", {})
    code = str(error.get("Code") or "Unknown")
    request_id = meta.get("RequestId") or (meta.get("HTTPHeaders") or {}).get("x-amzn-requestid")
    cls = _BY_CODE.get(code, BedrockServiceError)
    return cls(code, str(error.get("Message") or exc), meta.get("HTTPStatusCode"), request_id,
               operation=getattr(exc, "operation_name", None), model_id=model_id, client_error=exc)
