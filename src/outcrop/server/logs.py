"""Log set-up for the server: plain text or JSON lines (`--log-format json`).

What is logged is metadata only: request id, operation, model, status, outcome, latency, the
key's name. Request bodies (prompts, images) are never logged, and neither are secrets: access
keys' secrets and API tokens never reach a log record.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

LOG_FORMATS = ("text", "json")
_FIELDS = ("request_id", "operation", "model", "status", "outcome", "latency_ms", "principal", "client")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({name: getattr(record, name) for name in _FIELDS if getattr(record, name, None) is not None})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(level: str, fmt: str) -> None:
    """Replace the root handlers' formatter: one line per record, text or JSON."""
    if fmt not in LOG_FORMATS:
        raise ValueError(f"unknown log format {fmt!r}; choose one of {', '.join(LOG_FORMATS)}")
    root = logging.getLogger()
    root.setLevel(level.upper())
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    formatter: logging.Formatter = (
        JsonFormatter() if fmt == "json" else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    for handler in root.handlers:
        handler.setFormatter(formatter)
