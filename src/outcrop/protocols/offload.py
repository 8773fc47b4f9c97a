"""Body parsing off the event loop. A Converse request may carry 20 images of up to 64 MP, a Titan body
several to blend, a document pages to render: decoding them inline would stall every other request on the
loop (health checks, streams) for seconds. Parsing runs on a small bounded pool instead."""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")
THREAD_PREFIX = "outcrop-parse"
# Decoders hold the GIL part of the time, so more threads than cores buys nothing.
_POOL = ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1)), thread_name_prefix=THREAD_PREFIX)


async def off_loop(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """`fn(*args, **kwargs)` on the parse pool; its exceptions (Bedrock's validation errors) raise here."""
    return await asyncio.get_running_loop().run_in_executor(_POOL, functools.partial(fn, *args, **kwargs))
