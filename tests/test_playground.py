"""The playground page at `/`, driven in a real headless Chromium (Playwright from PyPI, Debian's chromium)
against one `outcrop serve --profile test` process with API keys and access keys configured.

The page's own requests are captured as the browser sent them and compared with what its "Show code"
snippets send when they are run for real: boto3 in this process, the AWS SDK for JavaScript v3 in node.
Set OUTCROP_PLAYGROUND_SCREENSHOTS=docs/playground to refresh the README's screenshots.
"""

from __future__ import annotations

import base64
import http.server
import io
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from PIL import Image

from outcrop.config import Settings
from outcrop.search.collections import open_collection
from outcrop.search.embedder import InProcessEmbedder
from outcrop.search.indexer import index_folder
from search_helpers import make_folder
from servers import ServerProcess, ThreadServer

playwright_sync = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed (make test installs it)", allow_module_level=True)

ROOT = Path(__file__).resolve().parent.parent
AXE = ROOT / "tests" / "vendor" / "axe-core" / "axe.min.js"
JS_DIR = ROOT / "tests" / "js"
API_KEY = "playground-test-key"
COLLECTION = "playground-photos"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
SHOTS = os.environ.get("OUTCROP_PLAYGROUND_SCREENSHOTS")


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of small images, indexed as collection COLLECTION in the data folder the server will use."""
    root = tmp_path_factory.mktemp("playground-photos")
    make_folder(root, 12)
    settings = Settings.from_env(profile="test")
    with InProcessEmbedder(settings) as emb, open_collection(COLLECTION, data_dir=settings.data_dir, model_key=emb.model_key,
                                                             dimension=1024) as store:
        index_folder(store, emb, root, progress=False)
    return root


@pytest.fixture(scope="module")
def pg_server(tmp_path_factory: pytest.TempPathFactory, photos: Path) -> Iterator[ServerProcess]:
    log = tmp_path_factory.mktemp("playground") / "server.log"
    access = f"{os.environ['AWS_ACCESS_KEY_ID']}:{os.environ['AWS_SECRET_ACCESS_KEY']}"
    proc = ServerProcess("--profile", "test", log=log, env={"OUTCROP_API_KEYS": API_KEY, "OUTCROP_ACCESS_KEYS": access,
                                                            "OUTCROP_SEARCH_ROOTS": str(photos)})
    try:
        proc.start()
    except Exception:
        print(log.read_text(errors="replace")[-5000:])
        raise
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def browser(pg_server: ServerProcess) -> Iterator[Any]:
    """After the server (and the indexing, which runs an asyncio loop: Playwright's sync API holds one open)."""
    with playwright_sync.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


class Session:
    """A browser context whose requests may go to the server only; anything else is recorded and refused."""

    def __init__(self, browser: Any, server: ServerProcess, key: str | None = API_KEY) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.foreign: list[str] = []
        self.errors: list[str] = []

        def route(route: Any) -> None:
            if route.request.url.startswith(server.url + "/") or route.request.url.startswith("data:"):
                route.continue_()
            else:
                self.foreign.append(route.request.url)
                route.abort()

        self.context.route("**/*", route)
        if key is not None:
            self.context.add_init_script(f"sessionStorage.setItem('outcrop.apiKey', {json.dumps(key)})")
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.url = server.url

    def open(self, path: str = "/") -> Any:
        self.page.goto(self.url + path)
        return self.page

    def close(self) -> None:
        self.context.close()
        assert not self.foreign, f"the page tried to reach other hosts: {self.foreign}"
        assert not self.errors, f"page errors: {self.errors}"


@pytest.fixture
def session(browser: Any, pg_server: ServerProcess) -> Iterator[Session]:
    s = Session(browser, pg_server)
    yield s
    s.close()


def wait(page: Any, expression: str, timeout: float = 120_000) -> None:
    """page.wait_for_function with a function (a bare expression would need eval, which the page's CSP forbids)."""
    page.wait_for_function(f"() => {expression}", timeout=timeout)


def shot(page: Any, name: str, full_page: bool = False) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=full_page)


def models_loaded(page: Any) -> None:
    wait(page, "document.querySelectorAll('#img-model option').length > 0 && document.querySelectorAll('#chat-model option').length > 0")


def run_boto3_snippet(code: str, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Run a "Show code" boto3 program for real; return the request bodies botocore put on the wire."""
    bodies: list[bytes] = []

    def capture(request: Any, **_: Any) -> None:
        body = request.body
        bodies.append(body.encode() if isinstance(body, str) else bytes(body or b""))

    boto3.setup_default_session()
    boto3.DEFAULT_SESSION.events.register("before-send.bedrock-runtime", capture)
    monkeypatch.chdir(cwd)
    try:
        exec(compile(code, "snippet.py", "exec"), {"__name__": "__main__"})
    finally:
        boto3.DEFAULT_SESSION = None
    return bodies


CAPTURE_JS = """
import { writeFileSync } from "node:fs";
import { BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";
const send = BedrockRuntimeClient.prototype.send;
BedrockRuntimeClient.prototype.send = function (command, ...rest) {
  this.middlewareStack.add((next) => async (args) => {
    writeFileSync(process.env.CAPTURE_FILE, Buffer.from(args.request.body));
    return next(args);
  }, { step: "finalizeRequest", name: "playgroundCapture" });
  return send.call(this, command, ...rest);
};
"""


def run_js_snippet(code: str, cwd: Path) -> bytes:
    """Run a "Show code" JavaScript program in node with the pinned AWS SDK; return the body it sent."""
    if shutil.which("node") is None or not (JS_DIR / "node_modules" / "@aws-sdk" / "client-bedrock-runtime").is_dir():
        pytest.skip("node and the pinned AWS SDK for JavaScript v3 (tests/js) are needed")
    (cwd / "node_modules").symlink_to((JS_DIR / "node_modules").resolve())
    (cwd / "snippet.mjs").write_text(code)
    (cwd / "capture.mjs").write_text(CAPTURE_JS)
    env = {**os.environ, "CAPTURE_FILE": str(cwd / "body.bin")}
    done = subprocess.run(["node", "--import", "./capture.mjs", "snippet.mjs"], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return (cwd / "body.bin").read_bytes()


def png_bytes(color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), color).save(out, "PNG")
    return out.getvalue()


# -- images ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("model_id", ["stability.stable-diffusion-xl-v1", "amazon.titan-image-generator-v2:0"])
def test_generate_shows_image_and_code_sends_the_same_body(session: Session, model_id: str, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    page = session.open()
    models_loaded(page)
    page.select_option("#img-model", model_id)
    prompt = "赤い車 <b>not bold</b> \"quoted\" \\ tab\tend"
    page.fill("#img-prompt", prompt)
    page.fill("#img-negative", "blurry, low quality")
    page.fill("#img-seed", "1234")
    page.select_option("#img-size", "1024x1024")
    if model_id.startswith("stability"):
        page.fill("#img-weight", "0.8")
        page.fill("#img-neg-weight", "-0.5")
        page.fill("#img-cfg", "9.5")
        page.fill("#img-steps", "12")
        page.select_option("#img-sampler", "K_EULER")
        page.select_option("#img-style", "anime")
    else:
        page.fill("#img-cfg", "7.5")
        page.select_option("#img-quality", "standard")
        page.fill("#img-count", "2")
    with page.expect_request(lambda r: r.url.endswith("/invoke") and r.method == "POST") as sent:
        page.click("#img-generate")
    request = sent.value
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    body = request.post_data_buffer
    document = json.loads(body)
    wait(page, f"document.querySelectorAll('#gallery img').length >= {1 if model_id.startswith('stability') else 2}")
    wait(page, "[...document.querySelectorAll('#gallery img')].every((img) => img.complete && img.naturalWidth > 0)", 10_000)
    caption = page.text_content("#gallery li:first-child figcaption")
    assert prompt.split("\t")[0] in caption  # shown as text ...
    assert page.locator("#gallery figcaption b").count() == 0  # ... never parsed as HTML
    if model_id.startswith("stability"):
        assert document["text_prompts"] == [{"text": prompt, "weight": 0.8}, {"text": "blurry, low quality", "weight": -0.5}]
        assert (document["cfg_scale"], document["steps"], document["seed"], document["sampler"], document["style_preset"]) == \
            (9.5, 12, 1234, "K_EULER", "anime")
        assert "seed 1234" in caption
    else:
        assert document["taskType"] == "TEXT_IMAGE"
        assert document["textToImageParams"] == {"text": prompt, "negativeText": "blurry, low quality"}
        assert document["imageGenerationConfig"] == {"numberOfImages": 2, "quality": "standard", "cfgScale": 7.5, "seed": 1234,
                                                     "width": 1024, "height": 1024}
        seeds = page.locator("#gallery .seed").all_text_contents()
        assert seeds[:2] == ["seed 1235", "seed 1234"]  # newest first
    page.click("#img-code-toggle")
    python = page.text_content("#img-code-python")
    javascript = page.text_content("#img-code-javascript")
    assert model_id in python and model_id in javascript
    if model_id.startswith("stability"):
        shot(page, "images")

    py_bodies = run_boto3_snippet(python, tmp_path, monkeypatch)
    assert py_bodies == [body]  # byte for byte what the page sent
    assert (tmp_path / "image-0.png").read_bytes().startswith(b"\x89PNG")
    js_dir = tmp_path / "js"
    js_dir.mkdir()
    assert run_js_snippet(javascript, js_dir) == body
    assert (js_dir / "image-0.png").read_bytes().startswith(b"\x89PNG")


def test_generate_can_be_cancelled(session: Session) -> None:
    page = session.open()
    models_loaded(page)
    page.select_option("#img-model", "stability.stable-diffusion-xl-v1")
    page.fill("#img-prompt", "cancel me")
    before = page.locator("#gallery img").count()
    page.click("#img-generate")
    page.click("#img-cancel")
    wait(page, "document.getElementById('img-status').textContent === 'Cancelled.'", 10_000)
    assert page.locator("#gallery img").count() == before
    assert not page.is_disabled("#img-generate")


# -- chat -------------------------------------------------------------------------------------------------------------

def test_chat_with_an_image_streams_and_stops(session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = session.open()
    models_loaded(page)
    page.click("#tab-chat")
    page.select_option("#chat-model", "amazon.nova-lite-v1:0")
    page.fill("#chat-system", "Answer briefly.")
    page.set_input_files("#chat-file", files=[{"name": "red.png", "mimeType": "image/png", "buffer": png_bytes()}])
    wait(page, "document.querySelectorAll('#attachments img').length === 1", 10_000)  # read asynchronously
    page.fill("#chat-input", "What is in this picture?")
    page.fill("#chat-max", "512")
    assert page.input_value("#chat-temperature") == "0.7"  # the page's default
    # Greedy: the tiny model then always runs to its 512 tokens (~4 s), so there is a stream to stop; sampled, it
    # sometimes ends after a few tokens and the live answer is gone before it can be seen.
    page.fill("#chat-temperature", "0")
    with page.expect_request(lambda r: r.url.endswith("/converse-stream")) as sent:
        page.click("#chat-send")
    document = json.loads(sent.value.post_data_buffer)
    assert sent.value.headers["accept"] == "application/vnd.amazon.eventstream"
    image = document["messages"][0]["content"][0]["image"]
    assert image["format"] == "png" and image["source"]["bytes"]
    assert document["system"] == [{"text": "Answer briefly."}]
    assert document["inferenceConfig"] == {"maxTokens": 512, "temperature": 0, "topP": 0.9}
    page.focus("#chat-stop")  # the answer grows above the buttons and moves them: stop from the keyboard
    wait(page, "(document.getElementById('chat-live')?.textContent.length ?? 0) > 0")  # tokens arrive while streaming
    page.keyboard.press("Enter")
    wait(page, "document.getElementById('chat-status').textContent === 'Stopped.'", 10_000)
    assert page.locator("#transcript li").count() == 2
    assert page.locator("#transcript li img").count() == 1

    # A second turn runs to its end: usage and latency are shown.
    page.fill("#chat-max", "8")
    page.fill("#chat-input", "And now?")
    with page.expect_request(lambda r: r.url.endswith("/converse-stream")) as sent:
        page.click("#chat-send")
    second = json.loads(sent.value.post_data_buffer)
    assert [m["role"] for m in second["messages"]] == ["user", "assistant", "user"]
    wait(page, "document.getElementById('chat-status').textContent.includes('tokens')")
    status = page.text_content("#chat-status")
    assert "8 output" in status and "max_tokens" in status and "server" in status
    page.click("#chat-code-toggle")
    shot(page, "chat")

    (tmp_path / "red.png").write_bytes(png_bytes())
    bodies = run_boto3_snippet(page.text_content("#chat-code-python"), tmp_path, monkeypatch)
    assert [json.loads(b) for b in bodies] == [second]  # botocore serialises Converse itself: the same JSON document


# -- search, guardrails -----------------------------------------------------------------------------------------------

def test_search_by_text_then_by_a_result(session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = session.open()
    models_loaded(page)
    page.click("#tab-search")
    wait(page, f"[...document.querySelectorAll('#search-collection option')].some((o) => o.value === {json.dumps(COLLECTION)})", 20_000)
    page.select_option("#search-collection", COLLECTION)
    page.fill("#search-k", "5")
    page.fill("#search-text", "赤い車")
    with page.expect_request(lambda r: r.url.endswith("/search")) as sent:
        page.keyboard.press("Enter")
    body = sent.value.post_data_buffer
    assert json.loads(body) == {"text": "赤い車", "k": 5}
    wait(page, "document.querySelectorAll('#search-results tr').length === 5", 60_000)
    scores = [float(x) for x in page.locator("#search-results td:nth-child(2)").all_text_contents()]
    assert scores == sorted(scores, reverse=True)
    third = page.text_content("#search-results tr:nth-child(3) th")
    with page.expect_request(lambda r: r.url.endswith("/search")) as again:
        page.click("#search-results tr:nth-child(3) button")
    assert json.loads(again.value.post_data_buffer) == {"imagePath": third, "k": 5}
    wait(page, f"document.querySelector('#search-results tr th')?.textContent === {json.dumps(third)}", 60_000)
    assert float(page.text_content("#search-results tr:first-child td:nth-child(2)")) > 0.99  # the image itself
    shot(page, "search", full_page=True)
    page.click("#search-code-toggle")
    assert page.text_content("#search-code h4") == "Python (urllib, standard library)"

    sent_bodies: list[bytes] = []
    real_urlopen = urllib.request.urlopen

    def recording_urlopen(request: urllib.request.Request, *args: Any, **kwargs: Any) -> Any:
        sent_bodies.append(bytes(request.data))  # type: ignore[arg-type]
        return real_urlopen(request, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", recording_urlopen)
    monkeypatch.setenv("OUTCROP_API_KEY", API_KEY)
    monkeypatch.chdir(tmp_path)
    exec(compile(page.text_content("#search-code-python"), "snippet.py", "exec"), {"__name__": "__main__"})
    assert sent_bodies == [again.value.post_data_buffer]


def test_guardrail_on_text_and_an_image(session: Session, pg_server: ServerProcess, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    control = boto3.client("bedrock", endpoint_url=pg_server.url)
    created = control.create_guardrail(name="playground-words", blockedInputMessaging="Blocked by the playground test.",
                                       blockedOutputsMessaging="Blocked output.",
                                       wordPolicyConfig={"wordsConfig": [{"text": "project falcon"}]})
    page = session.open()
    models_loaded(page)
    page.click("#tab-guardrails")
    wait(page, f"[...document.querySelectorAll('#gr-id option')].some((o) => o.value === {json.dumps(created['guardrailId'])})", 20_000)
    page.select_option("#gr-id", created["guardrailId"])
    page.fill("#gr-text", "Tell me about Project Falcon.")
    page.set_input_files("#gr-image", files=[{"name": "red.png", "mimeType": "image/png", "buffer": png_bytes()}])
    page.select_option("#gr-scope", "FULL")
    wait(page, "document.getElementById('gr-image-status').textContent.startsWith('red.png')", 10_000)  # read asynchronously
    with page.expect_request(lambda r: r.url.endswith("/apply")) as sent:
        page.click("#gr-apply")
    document = json.loads(sent.value.post_data_buffer)
    assert document["source"] == "INPUT" and document["outputScope"] == "FULL"
    assert document["content"][0] == {"text": {"text": "Tell me about Project Falcon."}}
    assert document["content"][1]["image"]["format"] == "png"
    page.wait_for_selector("#gr-result", state="visible", timeout=60_000)
    assert page.text_content("#gr-action").startswith("GUARDRAIL_INTERVENED")
    assert page.text_content("#gr-outputs") == "Blocked by the playground test."
    assessments = json.loads(page.text_content("#gr-assessments"))
    assert assessments[0]["wordPolicy"]["customWords"][0]["match"].lower() == "project falcon"
    shot(page, "guardrails", full_page=True)
    page.click("#gr-code-toggle")

    (tmp_path / "red.png").write_bytes(png_bytes())
    bodies = run_boto3_snippet(page.text_content("#gr-code-python"), tmp_path, monkeypatch)
    assert [json.loads(b) for b in bodies] == [document]


# -- language, keys, origins ------------------------------------------------------------------------------------------

def test_language_switch(session: Session) -> None:
    page = session.open()
    models_loaded(page)
    keys = page.evaluate("async () => (await import('/playground/js/i18n.js')).STRING_KEYS")
    assert sorted(keys["en"]) == sorted(keys["ja"])
    english = page.eval_on_selector_all("[data-i18n]", "els => els.map((e) => e.textContent)")
    page.click("#lang")
    assert page.get_attribute("html", "lang") == "ja"
    assert page.text_content("#tab-images") == "画像"
    japanese = page.eval_on_selector_all("[data-i18n]", "els => els.map((e) => e.textContent)")
    same = [en for en, ja in zip(english, japanese) if en == ja and not en.isascii()]
    assert sum(en != ja for en, ja in zip(english, japanese)) >= len(english) - 4, same  # brand names stay
    page.click("#tab-models")
    wait(page, "document.querySelectorAll('#models-table tbody tr').length > 0", 20_000)
    # The refresh started at boot may answer (in English) after the switch; the tab's own refresh follows.
    wait(page, "document.getElementById('health-summary').textContent.includes('プロファイル')", 20_000)
    assert "プロファイル test" in page.text_content("#health-summary")
    shot(page, "models-ja")
    page.reload()  # the choice is remembered
    assert page.get_attribute("html", "lang") == "ja"
    page.click("#lang")
    assert page.text_content("#tab-images") == "Images"


def test_missing_then_bad_then_good_key(browser: Any, pg_server: ServerProcess) -> None:
    s = Session(browser, pg_server, key=None)
    try:
        page = s.open()
        page.wait_for_selector("#key-form", state="visible", timeout=20_000)
        assert page.text_content("#key-reason") == "This server requires an API key."
        assert page.evaluate("() => document.activeElement.id") == "key-input"
        page.fill("#key-input", "not-the-key")
        page.keyboard.press("Enter")
        wait(page, "document.getElementById('key-reason').textContent.includes('refused')", 20_000)
        assert "API Key is valid" in page.text_content("#key-reason")
        page.fill("#key-input", API_KEY)
        page.keyboard.press("Enter")
        page.wait_for_selector("#key-form", state="hidden", timeout=20_000)
        models_loaded(page)
        assert page.evaluate("() => sessionStorage.getItem('outcrop.apiKey')") == API_KEY
        assert page.evaluate("() => localStorage.getItem('outcrop.apiKey')") is None
    finally:
        s.close()


ATTACKER = """<!doctype html><html lang="en"><title>elsewhere</title><body><script>
fetch("TARGET/model/stability.stable-diffusion-xl-v1/invoke", {method: "POST", mode: "no-cors",
  headers: {"Content-Type": "text/plain"}, body: JSON.stringify({text_prompts: [{text: "csrf"}]})});
</script></body></html>"""


def denied_count(url: str) -> float:
    """InvokeModel requests the server answered with AccessDeniedException, from its metrics."""
    lines = httpx.get(f"{url}/metrics").text.splitlines()
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith("outcrop_requests_total{")
               and 'outcome="AccessDeniedException"' in line and 'operation="InvokeModel"' in line)


def test_a_second_origin_is_refused(session: Session, pg_server: ServerProcess) -> None:
    page_html = ATTACKER.replace("TARGET", pg_server.url).encode()

    class Attacker(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page_html)

        def log_message(self, *args: Any) -> None:
            pass

    attacker = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Attacker)
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    other = f"http://127.0.0.1:{attacker.server_address[1]}"
    refusals = denied_count(pg_server.url)
    page = session.context.new_page()
    session.context.unroute("**/*")  # this test visits a second origin on purpose
    try:
        with page.expect_response(lambda r: r.url.startswith(pg_server.url) and "/invoke" in r.url) as answered:
            page.goto(other + "/")
        response = answered.value
        assert response.status == 403
        # Refused before authentication (which would count as MissingAuthenticationTokenException). Playwright shows
        # neither the opaque answer nor the Origin and Sec-Fetch-* headers Chromium adds; those are sent by hand below.
        deadline = time.monotonic() + 10  # the server counts a request once its answer is sent
        while denied_count(pg_server.url) < refusals + 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert denied_count(pg_server.url) == refusals + 1
    finally:
        attacker.shutdown()
        page.close()

    # The same refusals for requests written by hand; clients that send no Origin are not affected.
    invoke = f"{pg_server.url}/model/amazon.titan-embed-image-v1/invoke"
    auth = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
    body = json.dumps({"inputText": "hi"})
    refused = httpx.post(invoke, headers={**auth, "Origin": other, "Sec-Fetch-Site": "same-site"}, content=body)
    assert refused.status_code == 403 and "Cross-origin requests from" in refused.json()["message"]
    assert httpx.post(invoke, headers={**auth, "Origin": "http://elsewhere.example"}, content=body).status_code == 403
    assert httpx.post(invoke, headers={**auth, "Sec-Fetch-Site": "cross-site"}, content=body).status_code == 403
    assert httpx.post(invoke, headers={**auth, "Origin": pg_server.url, "Sec-Fetch-Site": "same-origin"}, content=body).status_code == 200
    assert httpx.post(invoke, headers=auth, content=body).status_code == 200
    page_headers = httpx.get(pg_server.url + "/").headers
    assert "frame-ancestors 'none'" in page_headers["content-security-policy"]
    assert page_headers["x-frame-options"] == "DENY"


def test_same_origin_rules_without_keys() -> None:
    """With no keys (loopback only) the page's own origin is trusted only at a loopback host name: a DNS-rebinding
    page whose origin 'equals' its Host is refused."""
    with ThreadServer.for_profile("test") as server:
        port = server.url.rsplit(":", 1)[1]
        url = f"{server.url}/foundation-models"
        own = httpx.get(url, headers={"Origin": server.url, "Sec-Fetch-Site": "same-origin"})
        assert own.status_code == 200
        local = httpx.get(url, headers={"Host": f"localhost:{port}", "Origin": f"http://localhost:{port}"})
        assert local.status_code == 200
        rebound = httpx.get(url, headers={"Host": f"rebind.example:{port}", "Origin": f"http://rebind.example:{port}"})
        assert rebound.status_code == 403
        assert httpx.get(url).status_code == 200  # no Origin: curl, boto3, the SDKs


# -- /docs, keyboard, accessibility -----------------------------------------------------------------------------------

def test_docs_render_offline(session: Session) -> None:
    requested: list[str] = []
    session.page.on("request", lambda r: requested.append(r.url))
    page = session.open("/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
    assert "outcrop" in page.text_content(".swagger-ui .info .title")
    page.wait_for_selector(".opblock", timeout=30_000)
    assert requested and all(u.startswith(session.url) or u.startswith("data:") for u in requested), requested


def test_keyboard_only_main_flow(session: Session) -> None:
    page = session.open()
    models_loaded(page)

    def tab_to(element_id: str, key: str = "Tab", limit: int = 40) -> None:
        for _ in range(limit):
            page.keyboard.press(key)
            if page.evaluate("() => document.activeElement.id") == element_id:
                return
        raise AssertionError(f"#{element_id} is not reachable with {key}")

    tab_to("img-prompt")
    page.keyboard.type("keyboard only")
    tab_to("img-generate")
    page.keyboard.press("Enter")
    wait(page, "document.querySelectorAll('#gallery img').length > 0")
    tab_to("tab-images", "Shift+Tab", 60)
    page.keyboard.press("ArrowRight")
    assert page.get_attribute("#tab-chat", "aria-selected") == "true"
    assert page.is_visible("#panel-chat") and not page.is_visible("#panel-images")
    tab_to("chat-input")
    page.keyboard.type("hello")
    page.keyboard.press("Control+Enter")
    wait(page, "document.getElementById('chat-status').textContent.includes('tokens')")
    assert page.locator("#transcript li").count() == 2


def axe_violations(page: Any) -> list[dict[str, Any]]:
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    result = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [v for v in result if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_accessibility(session: Session, lang: str) -> None:
    page = session.open()
    models_loaded(page)
    if lang == "ja":
        page.click("#lang")
    page.fill("#img-prompt", "a lighthouse")
    page.click("#img-generate")
    wait(page, "document.querySelectorAll('#gallery img').length > 0")
    page.click("#img-code-toggle")
    problems = {"images": axe_violations(page)}
    page.click("#tab-chat")
    page.set_input_files("#chat-file", files=[{"name": "red.png", "mimeType": "image/png", "buffer": png_bytes()}])
    wait(page, "document.querySelectorAll('#attachments img').length === 1", 10_000)
    page.fill("#chat-input", "hi")
    page.fill("#chat-max", "8")
    page.click("#chat-send")
    wait(page, "document.querySelectorAll('#transcript li').length === 2 && !document.getElementById('chat-live')")
    problems["chat"] = axe_violations(page)
    page.click("#tab-search")
    wait(page, "document.querySelectorAll('#search-collection option').length > 0", 20_000)
    page.fill("#search-text", "car")
    page.click("#search-go")
    wait(page, "document.querySelectorAll('#search-results tr').length > 0", 60_000)
    problems["search"] = axe_violations(page)
    page.click("#tab-guardrails")
    wait(page, "document.querySelectorAll('#gr-id option').length > 0 || !document.getElementById('gr-empty').hidden", 20_000)
    problems["guardrails"] = axe_violations(page)
    page.click("#tab-models")
    wait(page, "document.querySelectorAll('#models-table tbody tr').length > 0", 20_000)
    problems["models"] = axe_violations(page)
    assert all(not found for found in problems.values()), {
        tab: [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in found] for tab, found in problems.items()
    }


# -- image edits, progress ----------------------------------------------------------------------------------------------

def square_png(size: int = 96) -> bytes:
    """A red square on grey: something for maskPrompt and background removal to find."""
    image = Image.new("RGB", (size, size), (235, 235, 235))
    image.paste((210, 20, 20), (size // 3, size // 3, 2 * size // 3, 2 * size // 3))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def paint(page: Any, start: tuple[float, float], end: tuple[float, float]) -> None:
    """One brush stroke over the mask canvas, between two points given as fractions of its size."""
    canvas = page.locator("#edit-mask")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * start[0], box["y"] + box["height"] * start[1])
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * end[0], box["y"] + box["height"] * end[1], steps=8)
    page.mouse.up()


def decoded(b64: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(b64)))


def wait_gallery(page: Any, count: int) -> None:
    wait(page, f"document.querySelectorAll('#gallery img').length >= {count} || !document.getElementById('error').hidden")
    assert page.is_hidden("#error"), page.text_content("#error")


def save_code_files(page: Any, *folders: Path) -> list[str]:
    """Download the files the snippets read (the page's links) into each folder; their names."""
    names = []
    for link in page.locator("#edit-links a").all():
        with page.expect_download() as download:
            link.click()
        names.append(download.value.suggested_filename)
        for folder in folders:
            download.value.save_as(folder / names[-1])
    return names


@pytest.mark.parametrize("model_id", ["amazon.titan-image-generator-v2:0", "stability.stable-diffusion-xl-v1"])
def test_inpaint_a_history_image_with_the_brush(session: Session, model_id: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    page = session.open()
    models_loaded(page)
    page.select_option("#img-model", model_id)
    titan = model_id.startswith("amazon")
    page.select_option("#img-size", "512x512" if titan else "1024x1024")
    page.fill("#img-prompt", "a harbour")
    if not titan:
        page.fill("#img-steps", "150")  # the tiny model's most steps (3)
    page.click("#img-generate")
    wait_gallery(page, 1)
    # Live progress came from outcrop's progress route: every denoising step, the bar full at the end.
    steps = int(page.get_attribute("#img-progress", "data-steps"))
    assert steps >= 2 and page.evaluate("() => [document.getElementById('img-progress').value, document.getElementById('img-progress').max]") == [steps, steps]
    source_b64 = page.get_attribute("#gallery li:first-child img", "src").split(",", 1)[1]

    page.click("#gallery li:first-child .edit-this")
    wait(page, "document.getElementById('img-task').value === 'INPAINTING'", 10_000)  # read asynchronously
    assert page.evaluate("() => document.activeElement.id") == "img-task"
    assert page.text_content("#edit-source-status").endswith("512 × 512" if titan else "1024 × 1024")
    page.fill("#edit-brush-size", "60")
    paint(page, (0.2, 0.5), (0.8, 0.5))
    paint(page, (0.45, 0.5), (0.55, 0.5))
    page.check("#edit-erase")
    paint(page, (0.75, 0.5), (0.8, 0.5))  # erase the stroke's right end again
    page.check("#edit-draw")
    assert float(page.text_content("#edit-coverage").split(" ")[1].rstrip("%")) > 1
    page.fill("#img-prompt", "a lighthouse in the harbour")
    with page.expect_request(lambda r: r.url.endswith("/invoke") and r.method == "POST") as sent:
        page.click("#img-generate")
    body = sent.value.post_data_buffer
    assert sent.value.headers.get("x-outcrop-progress-id")  # outcrop's own header; the body is Bedrock's
    document = json.loads(body)
    if titan:
        assert document["taskType"] == "INPAINTING" and document["inPaintingParams"]["image"] == source_b64
        assert document["inPaintingParams"]["text"] == "a lighthouse in the harbour"
        mask, inside, outside = decoded(document["inPaintingParams"]["maskImage"]), 0, 255  # Titan: black = inside
        assert set(document["imageGenerationConfig"]) == {"numberOfImages", "quality", "cfgScale", "seed"}
    else:
        assert document["init_image"] == source_b64 and document["mask_source"] == "MASK_IMAGE_WHITE"
        assert document["text_prompts"][0]["text"] == "a lighthouse in the harbour" and "width" not in document
        mask, inside, outside = decoded(document["mask_image"]), 255, 0
    grey = mask.convert("L")
    w, h = grey.size
    assert (w, h) == decoded(source_b64).size
    assert grey.getpixel((w // 2, h // 2)) == inside and grey.getpixel((w // 3, h // 2)) == inside
    assert grey.getpixel((int(w * 0.79), h // 2)) == outside and grey.getpixel((5, 5)) == outside  # erased; never painted
    wait_gallery(page, 2)
    assert ("Inpainting" if titan else "steps") in page.text_content("#gallery li:first-child figcaption")
    page.click("#img-code-toggle")
    if titan:
        shot(page, "images-inpaint", full_page=True)
    py_dir, js_dir = tmp_path / "py", tmp_path / "js"
    py_dir.mkdir()
    js_dir.mkdir()
    assert save_code_files(page, py_dir, js_dir) == ["source.png", "mask.png"]
    assert run_boto3_snippet(page.text_content("#img-code-python"), py_dir, monkeypatch) == [body]
    assert (py_dir / "image-0.png").read_bytes().startswith(b"\x89PNG")
    assert run_js_snippet(page.text_content("#img-code-javascript"), js_dir) == body


def test_mask_by_text_shows_the_mask_the_server_computed(session: Session) -> None:
    page = session.open()
    models_loaded(page)
    page.select_option("#img-model", "amazon.titan-image-generator-v2:0")
    page.select_option("#img-task", "INPAINTING")
    page.set_input_files("#edit-file", files=[{"name": "square.png", "mimeType": "image/png", "buffer": square_png()}])
    wait(page, "document.getElementById('edit-source-status').textContent === 'square.png: 96 × 96'", 10_000)
    page.click("#img-generate")  # nothing painted, no maskPrompt: the page says what is missing and sends nothing
    assert "Paint a mask" in page.text_content("#error")
    page.fill("#edit-mask-prompt", "the red square")
    page.fill("#img-prompt", "")  # Titan takes an inpainting without text
    with page.expect_response(lambda r: r.url.endswith("/invoke")) as answered:
        page.click("#img-generate")
    document = json.loads(answered.value.request.post_data_buffer)
    assert document["inPaintingParams"] == {"image": base64.b64encode(square_png()).decode(), "maskPrompt": "the red square",
                                            "returnMask": True}
    returned = answered.value.json()["maskImage"]
    page.wait_for_selector("#edit-mask-result", state="visible", timeout=60_000)
    assert page.get_attribute("#edit-mask-result", "src") == f"data:image/png;base64,{returned}"  # the server's own mask
    assert decoded(returned).size == (96, 96)
    assert "the red square" in page.get_attribute("#edit-mask-result", "alt")
    wait_gallery(page, 1)


def test_variation_outpainting_and_background_removal(session: Session) -> None:
    page = session.open()
    models_loaded(page)
    page.select_option("#img-model", "amazon.nova-canvas-v1:0")
    page.set_input_files("#edit-file", files=[{"name": "square.png", "mimeType": "image/png", "buffer": square_png()}])
    source = base64.b64encode(square_png()).decode()

    def run(task: str) -> dict[str, Any]:
        before = page.locator("#gallery img").count()
        page.select_option("#img-task", task)
        with page.expect_request(lambda r: r.url.endswith("/invoke")) as sent:
            page.click("#img-generate")
        wait_gallery(page, before + 1)
        return json.loads(sent.value.post_data_buffer)  # type: ignore[no-any-return]

    page.select_option("#img-task", "IMAGE_VARIATION")
    page.fill("#img-prompt", "a red square, watercolour")
    page.fill("#img-seed", "7")
    page.select_option("#img-size", "512x512")
    page.fill("#edit-similarity", "0.5")
    assert run("IMAGE_VARIATION") == {
        "taskType": "IMAGE_VARIATION",
        "imageVariationParams": {"images": [source], "text": "a red square, watercolour", "similarityStrength": 0.5},
        "imageGenerationConfig": {"numberOfImages": 1, "quality": "standard", "cfgScale": 6.5, "seed": 7, "width": 512, "height": 512},
    }
    page.select_option("#img-task", "OUTPAINTING")
    assert page.text_content("#edit-brush-hint").startswith("Paint over what to keep")
    assert page.is_hidden("#edit-mask-prompt-field")  # outpainting takes a mask image only
    paint(page, (0.35, 0.5), (0.65, 0.5))
    page.select_option("#edit-outpaint-mode", "PRECISE")
    document = run("OUTPAINTING")
    params = document["outPaintingParams"]
    assert (params["image"], params["text"], params["outPaintingMode"]) == (source, "a red square, watercolour", "PRECISE")
    assert decoded(params["maskImage"]).convert("L").getpixel((48, 48)) == 0  # painted = kept = inside (black)
    assert run("BACKGROUND_REMOVAL") == {"taskType": "BACKGROUND_REMOVAL", "backgroundRemovalParams": {"image": source}}
    assert page.is_hidden("#img-prompt")
    assert page.locator("#gallery li:first-child .seed").count() == 0  # background removal has no seed
    assert page.text_content("#gallery li:first-child figcaption").startswith("Background removal")


def image_loaded(page: Any) -> tuple[int, int]:
    """The newest gallery image, once decoded: its natural size."""
    wait(page, "(() => { const img = document.querySelector('#gallery li:first-child img'); "
               "return img && img.complete && img.naturalWidth > 0; })()", 10_000)
    size = page.evaluate("() => { const img = document.querySelector('#gallery li:first-child img'); "
                         "return [img.naturalWidth, img.naturalHeight]; }")
    return size[0], size[1]


def generate(page: Any) -> tuple[bytes, dict[str, Any]]:
    """Click generate; the body the page sent, and the gallery has its image (or the test fails on the error)."""
    before = page.locator("#gallery img").count()
    with page.expect_request(lambda r: r.url.endswith("/invoke") and r.method == "POST") as sent:
        page.click("#img-generate")
    wait_gallery(page, before + 1)
    body = sent.value.post_data_buffer
    return body, json.loads(body)


def code_sends(page: Any, folder: Path, monkeypatch: pytest.MonkeyPatch, files: list[str]) -> list[bytes]:
    """Show code, download the files it reads (checked by name), run its boto3 program: the bodies it sent."""
    page.click("#img-code-toggle")
    folder.mkdir()
    assert save_code_files(page, folder) == files
    return run_boto3_snippet(page.text_content("#img-code-python"), folder, monkeypatch)


def test_colour_guided_generation_with_a_palette_and_a_reference(session: Session, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    page = session.open()
    models_loaded(page)
    page.select_option("#img-model", "amazon.titan-image-generator-v1")
    assert "COLOR_GUIDED_GENERATION" not in page.eval_on_selector_all("#img-task option", "os => os.map((o) => o.value)")
    page.select_option("#img-model", "amazon.nova-canvas-v1:0")
    page.select_option("#img-task", "COLOR_GUIDED_GENERATION")
    assert page.is_visible("#cgg-fields") and page.is_hidden("#edit-fields")
    page.click("#cgg-add")
    assert page.evaluate("() => document.activeElement.id") == "cgg-color-3"  # the new colour, ready for the keyboard
    page.fill("#cgg-color-3", "#00ff00")
    page.get_by_label("Remove colour 1", exact=True).click()
    assert page.text_content("#cgg-count") == "3 of at most 10 colours"
    page.set_input_files("#cgg-ref-file", files=[{"name": "square.png", "mimeType": "image/png", "buffer": square_png()}])
    wait(page, "document.getElementById('cgg-ref-pick').value === 'file'", 10_000)
    page.fill("#img-prompt", "a harbour at dusk")
    page.fill("#img-negative", "fog")
    page.fill("#img-seed", "5")
    page.select_option("#img-size", "512x512")
    body, document = generate(page)
    assert document == {
        "taskType": "COLOR_GUIDED_GENERATION",
        "colorGuidedGenerationParams": {"colors": ["#f2c14e", "#e4572e", "#00ff00"], "text": "a harbour at dusk",
                                        "negativeText": "fog", "referenceImage": base64.b64encode(square_png()).decode()},
        "imageGenerationConfig": {"numberOfImages": 1, "quality": "standard", "cfgScale": 6.5, "seed": 5, "width": 512, "height": 512},
    }
    assert image_loaded(page) == (512, 512)
    assert "Colour-guided generation" in page.text_content("#gallery li:first-child figcaption")
    assert not axe_violations(page)  # the palette editor and the picker are labelled
    assert code_sends(page, tmp_path / "py", monkeypatch, ["reference.png"]) == [body]


def test_text_to_image_conditioned_on_a_history_image(session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = session.open()
    models_loaded(page)
    page.select_option("#img-model", "amazon.titan-image-generator-v1")
    assert page.is_hidden("#cond-fields")  # Titan Image v1 takes no conditionImage
    page.select_option("#img-model", "amazon.titan-image-generator-v2:0")
    page.select_option("#img-size", "512x512")
    page.fill("#img-prompt", "a lighthouse")
    _, plain = generate(page)
    assert "conditionImage" not in plain["textToImageParams"]  # none picked: none sent
    first = page.get_attribute("#gallery li:first-child img", "src").split(",", 1)[1]
    page.select_option("#cond-pick", label="history image 1")
    page.select_option("#cond-mode", "SEGMENTATION")
    page.fill("#cond-strength", "0.4")
    page.fill("#img-prompt", "a lighthouse, same layout")
    body, document = generate(page)  # the test profile's engine has a ControlNet for both modes: accepted
    assert document["textToImageParams"] == {"text": "a lighthouse, same layout", "conditionImage": first,
                                             "controlMode": "SEGMENTATION", "controlStrength": 0.4}
    assert image_loaded(page) == (512, 512)
    assert "SEGMENTATION 0.4" in page.text_content("#gallery li:first-child figcaption")
    assert code_sends(page, tmp_path / "py", monkeypatch, ["condition.png"]) == [body]


def test_outpainting_extends_the_canvas(session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = session.open()
    models_loaded(page)
    page.select_option("#img-model", "amazon.nova-canvas-v1:0")
    page.select_option("#img-task", "OUTPAINTING")
    page.set_input_files("#edit-file", files=[{"name": "square.png", "mimeType": "image/png", "buffer": square_png()}])
    wait(page, "document.getElementById('edit-source-status').textContent === 'square.png: 96 × 96'", 10_000)
    page.click("#edit-extend")  # nothing to add yet
    assert "at least one side" in page.text_content("#error")
    for side, pixels in (("left", "32"), ("right", "32"), ("bottom", "16")):
        page.fill(f"#edit-pad-{side}", pixels)
    page.click("#edit-extend")
    wait(page, "document.getElementById('edit-source-status').textContent === 'square.png, extended: 160 × 112'", 10_000)
    assert page.text_content("#edit-coverage") == f"Mask: {96 * 96 / (160 * 112) * 100:.1f}% of the image"
    page.fill("#img-prompt", "a red square on a table")
    body, document = generate(page)
    params = document["outPaintingParams"]
    assert params["outPaintingMode"] == "DEFAULT" and params["text"] == "a red square on a table"
    image, mask = decoded(params["image"]).convert("RGB"), decoded(params["maskImage"]).convert("L")
    assert image.size == mask.size == (160, 112)
    assert image.getpixel((32 + 48, 48)) == (210, 20, 20) and image.getpixel((32 + 5, 5)) == (235, 235, 235)  # the original, in place
    assert [mask.getpixel(p) for p in ((32, 0), (127, 95), (80, 48))] == [0, 0, 0]  # black: the original, kept
    assert [mask.getpixel(p) for p in ((31, 50), (128, 50), (80, 96), (0, 111))] == [255] * 4  # white: the new border, painted
    assert image_loaded(page) == (160, 112)
    assert code_sends(page, tmp_path / "py", monkeypatch, ["source.png", "mask.png"]) == [body]


def test_sd3_and_stable_image_bodies(session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = session.open()
    models_loaded(page)
    page.select_option("#img-model", "stability.stable-image-core-v1:1")
    assert page.eval_on_selector_all("#img-task option", "os => os.map((o) => o.value)") == ["TEXT_IMAGE"]  # Core: text only
    page.select_option("#img-model", "stability.sd3-5-large-v1:0")
    assert page.is_visible("#sd3-fields") and page.is_hidden("#sdxl-fields") and page.is_hidden("#titan-fields")
    assert page.is_hidden("#img-cfg-field") and page.is_hidden("#img-size-field")  # no CFG or size in these bodies
    page.fill("#img-prompt", "a tram in the rain")
    page.fill("#img-negative", "people")
    page.fill("#img-seed", "77")
    page.select_option("#sd3-aspect", "16:9")
    page.select_option("#sd3-format", "jpeg")
    _, document = generate(page)
    assert document == {"prompt": "a tram in the rain", "negative_prompt": "people", "mode": "text-to-image",
                        "aspect_ratio": "16:9", "seed": 77, "output_format": "jpeg"}
    assert image_loaded(page) == (1344, 768)
    src = page.get_attribute("#gallery li:first-child img", "src")
    assert src.startswith("data:image/jpeg;base64,") and base64.b64decode(src.split(",", 1)[1])[:2] == b"\xff\xd8"
    assert "seed 77" in page.text_content("#gallery li:first-child figcaption")  # the answer's `seeds`

    page.click("#gallery li:first-child .edit-this")  # image to image from the JPEG, as it is
    wait(page, "document.getElementById('img-task').value === 'IMAGE_VARIATION'", 10_000)
    assert page.is_hidden("#sd3-aspect-field") and page.is_visible("#sd3-strength-field")
    page.fill("#sd3-strength", "0.5")
    page.select_option("#sd3-format", "png")
    _, document = generate(page)
    assert document == {"prompt": "a tram in the rain", "negative_prompt": "people", "mode": "image-to-image",
                        "image": src.split(",", 1)[1], "strength": 0.5, "seed": 77, "output_format": "png"}
    assert image_loaded(page) == (1344, 768)
    page.select_option("#img-model", "stability.stable-image-ultra-v1:1")
    page.select_option("#img-task", "IMAGE_VARIATION")
    body, document = generate(page)
    assert "mode" not in document and document["strength"] == 0.5  # Ultra: image + strength without a mode
    assert not axe_violations(page)
    assert code_sends(page, tmp_path / "py", monkeypatch, ["source.jpg"]) == [body]
    assert (tmp_path / "py" / "image-0.png").read_bytes().startswith(b"\x89PNG")
    js_dir = tmp_path / "js"
    js_dir.mkdir()
    shutil.copy(tmp_path / "py" / "source.jpg", js_dir)
    assert run_js_snippet(page.text_content("#img-code-javascript"), js_dir) == body


def test_cancel_after_a_denoising_step(session: Session) -> None:
    page = session.open()
    models_loaded(page)
    page.select_option("#img-model", "amazon.titan-image-generator-v2:0")
    page.fill("#img-prompt", "cancel me half way")
    page.select_option("#img-quality", "premium")  # the most steps the test engine runs (3), five images a step
    page.fill("#img-count", "5")
    before = page.locator("#gallery img").count()
    # Cancel from inside the page the moment the bar shows a step, as a person would on seeing it move.
    page.evaluate("""() => {
        const bar = document.getElementById('img-progress');
        new MutationObserver((_, observer) => {
            if (Number(bar.dataset.steps) < 1) return;
            observer.disconnect();
            window.cancelledAt = [Number(bar.dataset.steps), bar.max];
            document.getElementById('img-cancel').click();
        }).observe(bar, { attributes: true, attributeFilter: ['data-steps'] });
    }""")
    page.click("#img-generate")
    wait(page, "document.getElementById('img-status').textContent === 'Cancelled.'", 60_000)
    seen, total = page.evaluate("() => window.cancelledAt")
    assert 1 <= seen < total  # cancelled between the first and the last step
    assert page.locator("#gallery img").count() == before
    page.fill("#img-count", "1")
    page.select_option("#img-quality", "standard")
    generate(page)  # the server kept serving
    assert page.text_content("#img-status").startswith("1 image(s)")


# -- chat documents, JSON answers -------------------------------------------------------------------------------------

def pdf_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (200, 120), (255, 255, 255)).save(out, "PDF")
    return out.getvalue()


def test_chat_with_documents_and_a_json_answer(session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = session.open()
    models_loaded(page)
    page.click("#tab-chat")
    page.select_option("#chat-model", "amazon.nova-lite-v1:0")
    notes = b"The harbour opens at 9.\n"
    report = pdf_bytes()  # Pillow dates each PDF it writes: one copy for the page and the snippet
    page.set_input_files("#chat-file", files=[
        {"name": "harbour notes_2024.txt", "mimeType": "text/plain", "buffer": notes},
        {"name": "report.pdf", "mimeType": "application/pdf", "buffer": report},
        {"name": "red.png", "mimeType": "image/png", "buffer": png_bytes()},
    ])
    wait(page, "document.querySelectorAll('#attachments li').length === 3", 10_000)
    page.click("#chat-send")  # documents without text: Converse refuses that, so the page says so first
    assert "needs text" in page.text_content("#error")
    page.fill("#chat-input", "When does the harbour open? Answer in JSON.")
    page.fill("#chat-max", "24")
    page.uncheck("#chat-stream")
    with page.expect_request(lambda r: r.url.endswith("/converse")) as sent:
        page.click("#chat-send")
    document = json.loads(sent.value.post_data_buffer)
    content = document["messages"][0]["content"]
    assert content[0] == {"document": {"format": "txt", "name": "harbour notes-2024",
                                       "source": {"bytes": base64.b64encode(notes).decode()}}}
    assert content[1]["document"]["format"] == "pdf" and content[1]["document"]["name"] == "report"
    assert content[2]["image"]["format"] == "png" and content[3] == {"text": "When does the harbour open? Answer in JSON."}
    wait(page, "document.getElementById('chat-status').textContent.includes('tokens') || !document.getElementById('error').hidden")
    assert page.is_hidden("#error"), page.text_content("#error")
    assert page.locator("#transcript li.user .doc").all_text_contents() == ["Document: harbour notes-2024 (txt)", "Document: report (pdf)"]
    # The answer was asked for in JSON (outcrop decodes it constrained): parsed, pretty-printed, marked valid.
    answer = page.text_content("#transcript li.assistant .text")
    assert page.text_content("#transcript li.assistant .json-check strong") == "Valid JSON:"
    assert json.loads(page.text_content("#transcript li.assistant pre.json")) == json.loads(answer)
    # Answers that are not valid JSON are flagged with the parser's complaint; plain text is left alone.
    checks = page.evaluate("""async () => {
        const { jsonAnswer } = await import('/playground/js/jsonview.js');
        return [['{"open": 9,', false], ['```json\\n{"open": 9}\\n```', false], ['It opens at 9.', false],
                ['It opens at 9.', true], ['-2', true]].map(([text, asked]) => jsonAnswer(text, asked).kind);
    }""")
    assert checks == ["invalid", "valid", "none", "invalid", "valid"]  # asked for JSON: every answer is checked

    page.click("#chat-code-toggle")
    (tmp_path / "harbour notes_2024.txt").write_bytes(notes)
    (tmp_path / "report.pdf").write_bytes(report)
    (tmp_path / "red.png").write_bytes(png_bytes())
    bodies = run_boto3_snippet(page.text_content("#chat-code-python"), tmp_path, monkeypatch)
    assert [json.loads(b) for b in bodies] == [document]

    # Converse accepts docx; this server says it cannot read one, in Bedrock's words, and the turn is not kept.
    page.set_input_files("#chat-file", files=[{"name": "memo.docx", "buffer": b"PK\x03\x04 not really a docx",
                                               "mimeType": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}])
    wait(page, "document.querySelectorAll('#attachments li').length === 1", 10_000)
    page.fill("#chat-input", "Summarise the memo.")
    page.click("#chat-send")
    wait(page, "!document.getElementById('error').hidden", 60_000)
    assert page.text_content("#error").startswith("ValidationException:") and "'docx' documents are not supported" in page.text_content("#error")
    assert page.locator("#transcript li").count() == 2


# -- search: index a folder from the page -------------------------------------------------------------------------------

def test_index_a_folder_then_search_it(session: Session, photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = session.open()
    models_loaded(page)
    page.click("#tab-search")
    page.fill("#index-collection", "page-indexed")
    page.fill("#index-folder", str(tmp_path))  # outside OUTCROP_SEARCH_ROOTS: refused, nothing created
    page.click("#index-go")
    wait(page, "!document.getElementById('error').hidden", 20_000)
    assert "outside the configured search roots" in page.text_content("#error")

    page.fill("#index-folder", str(photos))
    with page.expect_request(lambda r: r.url.endswith("/index")) as sent:
        page.click("#index-go")
    assert json.loads(sent.value.post_data_buffer) == {"folder": str(photos)}
    wait(page, "document.getElementById('index-status').textContent.startsWith('page-indexed:')", 120_000)
    assert page.text_content("#index-status").startswith("page-indexed: 12 images · 12 embedded, 0 unchanged")
    # the collection list is refreshed after the report is shown: wait for the new collection to be picked
    wait(page, "document.getElementById('search-collection').value === 'page-indexed'", 30_000)
    assert page.input_value("#search-collection") == "page-indexed"
    page.fill("#search-text", "a red car")
    page.fill("#search-k", "3")
    page.click("#search-go")
    wait(page, "document.querySelectorAll('#search-results tr').length === 3", 60_000)
    first = page.text_content("#search-results tr:first-child th")
    assert first.startswith(str(photos))
    page.click("#search-results tr:first-child button")  # click a result: search by it
    wait(page, f"document.querySelector('#search-results tr th')?.textContent === {json.dumps(first)} && "
               "Number(document.querySelector('#search-results tr td:nth-child(2)').textContent) > 0.99", 60_000)

    # The urllib snippet sends the page's bytes; indexing again changes nothing.
    page.click("#index-code-toggle")
    sent_bodies: list[bytes] = []
    real_urlopen = urllib.request.urlopen

    def recording_urlopen(request: urllib.request.Request, *args: Any, **kwargs: Any) -> Any:
        sent_bodies.append(bytes(request.data))  # type: ignore[arg-type]
        return real_urlopen(request, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", recording_urlopen)
    monkeypatch.setenv("OUTCROP_API_KEY", API_KEY)
    exec(compile(page.text_content("#index-code-python"), "snippet.py", "exec"), {"__name__": "__main__"})
    assert sent_bodies == [sent.value.post_data_buffer]
    again = httpx.post(f"{session.url}/outcrop/v1/collections/page-indexed/index", headers={"Authorization": f"Bearer {API_KEY}"},
                       json={"folder": str(photos)}, timeout=120).json()
    assert (again["count"], again["embedded"], again["unchanged"]) == (12, 0, 12)
