"""SigV4 verification for service `bedrock`, by recomputing the signature with botocore's own signer.

We rebuild the request the client signed (method, raw path, query, the headers it lists in
SignedHeaders, the body) as a botocore `AWSRequest` and let `botocore.auth.SigV4Auth` compute the
canonical request, string to sign and signature, so canonicalisation is exactly the SDKs' own
(including the path encoded a second time: `%3A` -> `%253A`). Only the checks around the
signature (scope, clock skew, header presence) are written here, with AWS's wording.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials

from outcrop.errors import IncompleteSignatureException, InvalidSignatureException

SERVICE = "bedrock"
ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=5)
AUTHORITY = ":authority"  # HTTP/2's Host
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)

class _ListedHeadersSigV4(SigV4Auth):  # type: ignore[misc]  # botocore ships no type hints
    """botocore's signer, canonicalising exactly the headers the client listed in SignedHeaders.

    botocore's own `headers_to_sign` skips a fixed set (user-agent, expect, x-amzn-trace-id, ...)
    because *it* never signs them; other signers (the AWS SDK for Java, hand-rolled ones) may,
    and SigV4 lets a client sign any header it sends. `host` is always listed (checked earlier).
    """

    def __init__(self, credentials: Credentials, region: str, signed_headers: tuple[str, ...]) -> None:
        super().__init__(credentials, SERVICE, region)
        self._signed = signed_headers

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        listed = HTTPHeaders()
        for name, value in request.headers.items():
            if name.lower() in self._signed:
                listed[name.lower()] = value
        return listed


_PART = re.compile(r"\s*(Credential|SignedHeaders|Signature)\s*=\s*([^,\s]*)\s*")


@dataclass(frozen=True)
class SigV4Authorization:
    access_key_id: str
    date: str
    region: str
    service: str
    terminator: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str) -> SigV4Authorization:
    """Split `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`, or say what is missing."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        # The value is not echoed: a client that put a bare secret in the header must not get it back in a body.
        raise IncompleteSignatureException(f"Unsupported authorization type. Use {ALGORITHM} (SigV4) or Bearer (a Bedrock API key).")
    parts: dict[str, str] = {}
    for chunk in rest.split(","):
        match = _PART.fullmatch(chunk)
        if match:
            parts[match.group(1)] = match.group(2)
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if not parts.get(name)]
    if missing:
        raise IncompleteSignatureException(
            "Authorization header requires " + ", ".join(f"'{m}'" for m in missing) + " parameter(s)."
        )  # the header is not echoed back (AWS does): whatever a client put there stays out of the body
    scope = parts["Credential"].split("/")
    if len(scope) != 5:
        raise IncompleteSignatureException(
            f"Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got "
            f"'{parts['Credential'][:200]}'"
        )
    return SigV4Authorization(
        access_key_id=scope[0], date=scope[1], region=scope[2], service=scope[3], terminator=scope[4],
        signed_headers=tuple(h for h in parts["SignedHeaders"].lower().split(";") if h),
        signature=parts["Signature"].lower(),
    )


def check_scope(auth: SigV4Authorization, amz_date: str | None, now: datetime, region_ok: bool) -> datetime:
    """Scope, date and clock-skew checks; returns the request time."""
    if auth.service != SERVICE:
        raise InvalidSignatureException(f"Credential should be scoped to correct service: '{SERVICE}'. ")
    if auth.terminator != "aws4_request":
        raise InvalidSignatureException(
            f"Credential should be scoped with a valid terminator: 'aws4_request', not '{auth.terminator[:40]}'. "
        )
    if not region_ok:
        raise InvalidSignatureException(f"Credential should be scoped to a valid region, not '{auth.region[:40]}'. ")
    if not amz_date:
        raise IncompleteSignatureException("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
    try:
        when = datetime.strptime(amz_date, AMZ_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise IncompleteSignatureException(f"X-Amz-Date must be in ISO 8601 basic format (YYYYMMDD'T'HHMMSS'Z'), got '{amz_date[:40]}'.") from None
    if auth.date != amz_date[:8]:
        raise InvalidSignatureException(
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{auth.date[:20]}' != '{amz_date[:8]}', from '{amz_date}'."
        )
    stamp = now.strftime(AMZ_DATE_FORMAT)
    if when < now - MAX_SKEW:
        raise InvalidSignatureException(
            f"Signature expired: {amz_date} is now earlier than {(now - MAX_SKEW).strftime(AMZ_DATE_FORMAT)} ({stamp} - 5 min.)"
        )
    if when > now + MAX_SKEW:
        raise InvalidSignatureException(
            f"Signature not yet current: {amz_date} is still later than {(now + MAX_SKEW).strftime(AMZ_DATE_FORMAT)} ({stamp} + 5 min.)"
        )
    if "host" not in auth.signed_headers and AUTHORITY not in auth.signed_headers:
        raise InvalidSignatureException("'host' must be a 'SignedHeader' in the AWS Authorization.")
    if "x-amz-date" not in auth.signed_headers:
        raise InvalidSignatureException("'x-amz-date' must be a 'SignedHeader' in the AWS Authorization.")
    return when


def verify_signature(
    auth: SigV4Authorization,
    *,
    secret_access_key: str,
    method: str,
    scheme: str,
    raw_path: str,
    query_string: str,
    headers: list[tuple[str, str]],
    body: bytes,
    amz_date: str,
    session_token: str | None = None,
) -> None:
    """Recompute the signature with botocore over exactly what was received; raise on any difference.

    Over HTTP/2 the authority travels as the `:authority` pseudo-header, which the server hands on as
    `host`; the AWS SDK for JavaScript v3 signs it under its own name, so it is given back that name.
    """
    if AUTHORITY in auth.signed_headers:
        headers = [*headers, *((AUTHORITY, value) for name, value in headers if name == "host")]
    present = {name for name, _ in headers}
    absent = [h for h in auth.signed_headers if h not in present]
    if absent:
        raise InvalidSignatureException(f"{MISMATCH} Signed header(s) missing from the request: {', '.join(absent[:5])}.")
    unsigned = sorted(n for n in present if (n.startswith("x-amz-") or n.startswith("x-amzn-bedrock-")) and n not in auth.signed_headers)
    if unsigned:
        raise InvalidSignatureException(f"{MISMATCH} Header(s) present but not signed: {', '.join(unsigned[:5])}.")
    content_sha = dict(headers).get("x-amz-content-sha256")
    if content_sha is not None and content_sha != hashlib.sha256(body).hexdigest():
        raise InvalidSignatureException("The provided 'x-amz-content-sha256' header does not match what was computed.")
    host = dict(headers).get("host", "")
    url = f"{scheme}://{host}{raw_path}" + (f"?{query_string}" if query_string else "")
    request = AWSRequest(method=method, url=url, data=body)
    for name, value in headers:
        if name in auth.signed_headers:
            request.headers[name] = value  # HTTPHeaders appends: repeated headers stay repeated, as signed
    request.context["timestamp"] = amz_date
    signer = _ListedHeadersSigV4(Credentials(auth.access_key_id, secret_access_key, session_token), auth.region, auth.signed_headers)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, auth.signature):
        raise InvalidSignatureException(MISMATCH)
