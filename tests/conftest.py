"""Shared fixtures: one real `outcrop serve --profile test` process for the session, boto3 clients
pointed at it through AWS_ENDPOINT_URL_BEDROCK_RUNTIME, as users do."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from outcrop.engines.cpu_threads import configure_openmp
from servers import ServerProcess

configure_openmp()  # before any test imports torch: in-process engines (ThreadServer, CLI) wait passively too

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("OUTCROP_CACHE_DIR", str(ROOT / ".cache" / "outcrop"))
# Servers the tests start keep guardrails and collections in a data folder of this run, never the user's.
os.environ.setdefault("OUTCROP_DATA_DIR", tempfile.mkdtemp(prefix="outcrop-test-data-"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Credentials and region as any AWS user has them; the server does not need real ones.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "AKIDOUTCROPTEST")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "outcrop-test-secret")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_BEARER_TOKEN_BEDROCK", None)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    log = tmp_path_factory.mktemp("server") / "server.log"
    proc = ServerProcess("--profile", "test", log=log)
    try:
        proc.start()
    except Exception:
        print(log.read_text(errors="replace")[-5000:])
        raise
    os.environ["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = proc.url
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def server_log(server: ServerProcess) -> Path:
    assert server.log_path is not None
    return server.log_path


def make_client(endpoint: str | None = None, **config: object) -> boto3.client:
    kwargs = {"config": Config(**config)} if config else {}
    if endpoint:
        kwargs["endpoint_url"] = endpoint  # type: ignore[assignment]
    return boto3.client("bedrock-runtime", **kwargs)


@pytest.fixture(scope="session")
def bedrock(server: ServerProcess):  # type: ignore[no-untyped-def]
    """A plain `boto3.client('bedrock-runtime')`: the endpoint comes from the environment."""
    return make_client()


@pytest.fixture(scope="session")
def bedrock_no_retry(server: ServerProcess):  # type: ignore[no-untyped-def]
    # `max_attempts` would still retry once (it counts retries); `total_max_attempts` counts every call.
    return make_client(retries={"total_max_attempts": 1, "mode": "standard"})


JS_DIR = ROOT / "tests" / "js"


@pytest.fixture(scope="session")
def js_sdk() -> Path:
    """The JavaScript clients (the AWS SDK for JavaScript v3, the Vercel AI SDK's Bedrock provider), pinned in
    tests/js/package-lock.json, installed on first use."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed: the AWS SDK for JavaScript v3 test needs them")
    wanted = json.loads((JS_DIR / "package.json").read_text())["dependencies"]
    with open(JS_DIR / ".npm-ci.lock", "w") as lock:  # pytest-xdist workers: one installs, the others wait
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not all((JS_DIR / "node_modules" / name).is_dir() for name in wanted):
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=JS_DIR, check=True, timeout=300)
    return JS_DIR
