"""Real servers for tests: an `outcrop serve` subprocess, or the same app in a thread for custom setups.

Both speak real HTTP on loopback; tests reach them with real boto3 clients.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx


FAULT_ENGINE = "outcrop.testing.faults:FaultEngine"


def fault_model_toml(model_id: str, **options: int) -> str:
    """A --models entry for the test-only fault engine (outcrop.testing.faults) over the tiny SigLIP,
    with its options (max_batch, timeout_s, hang_s, slow_s, max_queue, ...). No registry lists that engine:
    the entry names it by its import reference, as a --models file may name any engine class."""
    inline = ", ".join(f"{key} = {value}" for key, value in options.items())
    return (f'[models."{model_id}"]\nprotocol = "titan-embed-image"\nengine = "{FAULT_ENGINE}"\nweights = "builtin:tiny-siglip"\n'
            f'dtype = "float32"\ndevice = "cpu"\noptions = {{ {inline} }}\n')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, timeout: float = 120.0, process: subprocess.Popen[bytes] | None = None, verify: Any = True) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=2, verify=verify).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not become healthy in {timeout} s")


class ServerProcess:
    """`python -m outcrop serve ...` as users run it."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, scheme: str = "http", log: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.args = [sys.executable, "-m", "outcrop", "serve", "--port", str(self.port), *args]
        self.env = {**os.environ, **(env or {})}
        self.log_path = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, verify: Any = True) -> ServerProcess:
        out = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(self.args, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        wait_healthy(self.url, process=self.process, verify=verify)
        return self

    def stop(self) -> int | None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode if self.process else None


class ThreadServer:
    """The real app under Hypercorn in a background thread, for tests that need special settings or
    engines. Still real HTTP, real boto3."""

    def __init__(self, app: Any, tls: tuple[Path, Path] | None = None) -> None:
        """`tls`: (cert.pem, key.pem) to serve https with ALPN h2 and http/1.1, as `outcrop serve --tls-*` does."""
        from hypercorn.config import Config

        self.app = app
        self.port = free_port()
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.config = Config()
        self.config.bind = [f"127.0.0.1:{self.port}"]
        self.verify: Any = True
        if tls:
            import ssl

            self.config.certfile, self.config.keyfile = str(tls[0]), str(tls[1])
            self.config.alpn_protocols = ["h2", "http/1.1"]
            self.verify = ssl.create_default_context(cafile=str(tls[0]))
        self.config.graceful_timeout = 2
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from outcrop.server.http import serve_app

        async def main() -> None:
            self._stop = asyncio.Event()
            self._loop = asyncio.get_running_loop()
            await serve_app(self.app, self.config, shutdown_trigger=self._stop.wait)

        asyncio.run(main())

    def __enter__(self) -> ThreadServer:
        self._thread.start()
        wait_healthy(self.url, timeout=60, verify=self.verify)
        return self

    @classmethod
    def for_profile(cls, profile: str = "test", models_toml: str | None = None, folder: Path | None = None,
                    **settings: Any) -> ThreadServer:
        """The real app on `profile`, with a `--models` override file written from `models_toml` and any
        other `Settings` fields in `settings`."""
        from outcrop.config import Settings
        from outcrop.server.app import build_app

        models = None
        if models_toml is not None:
            assert folder is not None, "a models override needs a folder to be written to"
            models = folder / "models.toml"
            models.write_text(models_toml)
        return cls(build_app(Settings.from_env(profile=profile, models_file=models, **settings)))

    def engine(self, model_id: str) -> Any:
        """The loaded engine behind `model_id` (loading it if needed), to inspect what it did."""
        runtime = self.app.state.runtime
        assert self._loop is not None
        coro = runtime.pool.get(runtime.table.resolve(model_id), wait_s=300)
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def __exit__(self, *exc: Any) -> None:
        if self._loop and self._stop:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)
