"""Every exception type of botocore's `bedrock-runtime` service model, with its HTTP status.

The server writes them as Bedrock does: status, `x-amzn-ErrorType: <Code>:<namespace>` and a JSON
body `{"message": ...}`, which makes botocore raise `client.exceptions.<Code>`. Extra modeled
members (`originalStatusCode`, `resourceName`, `originalMessage`) go into the body too.
"""

from __future__ import annotations

from typing import Any, ClassVar

ERROR_TYPE_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.bedrock/"


class BedrockError(Exception):
    """Base of the closed hierarchy; `code` is the AWS name, `status` its HTTP status."""

    code: ClassVar[str] = "InternalServerException"
    status: ClassVar[int] = 500

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = {k: v for k, v in fields.items() if v is not None}

    def body(self) -> dict[str, Any]:
        return {"message": self.message, **self.fields}

    @property
    def event_type(self) -> str:
        """The lowerCamel member name used for exception events inside event streams."""
        return self.code[0].lower() + self.code[1:]


class ValidationException(BedrockError):
    code, status = "ValidationException", 400


class ServiceQuotaExceededException(BedrockError):
    code, status = "ServiceQuotaExceededException", 400


class ConflictException(BedrockError):
    code, status = "ConflictException", 400


class AccessDeniedException(BedrockError):
    code, status = "AccessDeniedException", 403


class ResourceNotFoundException(BedrockError):
    code, status = "ResourceNotFoundException", 404


class ModelTimeoutException(BedrockError):
    code, status = "ModelTimeoutException", 408


class ModelErrorException(BedrockError):
    """Carries `originalStatusCode` and `resourceName` as Bedrock's model does."""

    code, status = "ModelErrorException", 424


class ModelStreamErrorException(BedrockError):
    code, status = "ModelStreamErrorException", 424


class ThrottlingException(BedrockError):
    code, status = "ThrottlingException", 429


class ModelNotReadyException(BedrockError):
    """429 that AWS SDKs retry by themselves (modeled `retryable`): used while weights load."""

    code, status = "ModelNotReadyException", 429


class InternalServerException(BedrockError):
    code, status = "InternalServerException", 500


class ServiceUnavailableException(BedrockError):
    code, status = "ServiceUnavailableException", 503


# Not in the service model, but what AWS front doors answer for unknown signatures/routes.
class UnrecognizedClientException(BedrockError):
    code, status = "UnrecognizedClientException", 403


class UnknownOperationException(BedrockError):
    code, status = "UnknownOperationException", 404


# SigV4 failures, as every AWS front door names them (botocore raises ClientError with these codes).
class MissingAuthenticationTokenException(BedrockError):
    code, status = "MissingAuthenticationTokenException", 403


class IncompleteSignatureException(BedrockError):
    code, status = "IncompleteSignatureException", 400


class InvalidSignatureException(BedrockError):
    code, status = "InvalidSignatureException", 403


MODELED_ERRORS: tuple[type[BedrockError], ...] = (
    ValidationException,
    ServiceQuotaExceededException,
    ConflictException,
    AccessDeniedException,
    ResourceNotFoundException,
    ModelTimeoutException,
    ModelErrorException,
    ModelStreamErrorException,
    ThrottlingException,
    ModelNotReadyException,
    InternalServerException,
    ServiceUnavailableException,
)

MALFORMED_INPUT = "Malformed input request, please reformat your input and try again."
INVALID_MODEL_ID = "The provided model identifier is invalid."
