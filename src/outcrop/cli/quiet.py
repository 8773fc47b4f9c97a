"""Keep library noise out of a command's output: transformers' config warnings (`bos_token_id must be
None…` on every test-profile model), diffusers' and torch's warnings, Python warnings, weight-loading
progress bars when nobody watches them, and outcrop's own INFO lines outside `serve`. `--debug` or
`--log-level debug` lets everything through.

Set before any command imports torch, transformers or diffusers: they read their verbosity from
the environment at import. A variable the user set wins."""

from __future__ import annotations

import logging
import os
import sys
import warnings

# Variables read at import by the libraries; TORCH_LOGS "-torch" keeps torch's loggers at ERROR.
_QUIET_ENV = {"TRANSFORMERS_VERBOSITY": "error", "DIFFUSERS_VERBOSITY": "error", "TORCH_LOGS": "-torch",
              "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1", "TOKENIZERS_PARALLELISM": "false"}
_NOISY_LOGGERS = ("transformers", "diffusers", "torch", "huggingface_hub", "accelerate", "urllib3", "botocore",
                  "httpx", "pymilvus", "faiss", "spacy", "PIL")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(log_level: str, *, debug: bool, progress_bars: bool) -> None:
    """Logging at `log_level` for outcrop; libraries at ERROR unless debugging. `progress_bars`:
    whether weight-loading bars may draw (only on a terminal, and only when the command wants them)."""
    verbose = debug or log_level == "debug"
    logging.basicConfig(level=log_level.upper(), format=LOG_FORMAT, stream=sys.stderr)
    if verbose:
        return
    for key, value in _QUIET_ENV.items():
        os.environ.setdefault(key, value)
    if not progress_bars:
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # transformers' "Loading weights" bar reads it too
    warnings.filterwarnings("ignore")
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


def quiet_diffusers() -> None:
    """diffusers draws "Loading pipeline components…" whatever the environment says; call before a
    pipeline loads, in commands that load one, unless debugging or on a terminal."""
    if os.environ.get("HF_HUB_DISABLE_PROGRESS_BARS") == "1":
        from diffusers.utils import logging as diffusers_logging

        diffusers_logging.disable_progress_bar()
