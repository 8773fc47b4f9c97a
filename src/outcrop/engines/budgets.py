"""A non-streaming request's budget, taken from the retry schedule of the SDK that sends it.

botocore waits 60 s for a response (its default `read_timeout`) and then sends the same call again:
3 attempts in its `standard` retry mode, 5 in `legacy` (boto3's default today). The server joins
those attempts to the one running job (outcrop.retries), so a generation that needs 100 s on a
laptop is answered on the SDK's second attempt instead of failing. The engine's budget is therefore
`sdk_attempts × sdk_read_timeout_s − margin`: the smaller, standard schedule, less a margin so the
answer (or ModelTimeoutException) reaches the last attempt before that attempt's own read timeout.
A client with other settings sets `sdk_read_timeout_s`/`sdk_attempts`, or `timeout_s` outright.
Streams are not joined and have their own budget (the first event resets the SDK's read timer).
"""

from __future__ import annotations

from pydantic import Field

from outcrop.registry.options import Options

BOTOCORE_READ_TIMEOUT_S = 60.0
BOTOCORE_STANDARD_ATTEMPTS = 3
MARGIN_S = 5.0


def retry_schedule_budget_s(read_timeout_s: float = BOTOCORE_READ_TIMEOUT_S,
                            attempts: int = BOTOCORE_STANDARD_ATTEMPTS, margin_s: float = MARGIN_S) -> float:
    """How long the last of `attempts` read timeouts of `read_timeout_s` each can still receive an answer."""
    return max(attempts * read_timeout_s - margin_s, read_timeout_s / 2)


class BudgetOptions(Options):
    timeout_s: float | None = Field(
        None, gt=0, description="A request's budget, queueing included; default: sdk_attempts × sdk_read_timeout_s − 5 s.")
    sdk_read_timeout_s: float = Field(BOTOCORE_READ_TIMEOUT_S, gt=0, description="The clients' read timeout (botocore: 60 s).")
    sdk_attempts: int = Field(BOTOCORE_STANDARD_ATTEMPTS, ge=1, le=10,
                              description="Attempts the clients make per call (botocore standard mode: 3).")

    @property
    def request_budget_s(self) -> float:
        if self.timeout_s is not None:
            return self.timeout_s
        return retry_schedule_budget_s(self.sdk_read_timeout_s, self.sdk_attempts)
