"""Every example in the README runs, so none can rot: Python blocks against the `test`-profile server
(the Python SDK section's are run by test_sdk.py), shell blocks as users type them (`outcrop …`
through the CLI's `main`, `aws …` and the quick start's exports in bash), TOML blocks through the
loaders that read them. Any other block must be a `text` block: a syntax summary, not an example."""

from __future__ import annotations

import io
import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from images import image_bytes, shape_image
from outcrop.cli import main
from search_helpers import make_folder
from servers import ServerProcess

README = Path(__file__).resolve().parent.parent / "README.md"
SDK_SECTION = "Python SDK"  # its Python blocks: tests/test_sdk.py::test_readme_python_sdk_examples
README_URL = "http://127.0.0.1:8080"
BIN = Path(sys.executable).parent
# Lines of shell blocks that are not examples of outcrop but of working on it.
NOT_EXAMPLES = {"make serve": "starts the server this suite's fixtures start", "make test": "runs this suite"}


@dataclass(frozen=True)
class Block:
    language: str
    text: str
    section: str
    line: int


def readme_blocks() -> list[Block]:
    """Fenced blocks with their language, the `## ` section they sit in and their first line number."""
    blocks: list[Block] = []
    section, fence, body, start = "", None, [], 0
    for number, line in enumerate(README.read_text(encoding="utf-8").splitlines(), 1):
        if fence is None:
            if line.startswith("## "):
                section = line[3:].strip()
            elif line.startswith("```"):
                fence, body, start = line[3:].strip(), [], number
        elif line.startswith("```"):
            blocks.append(Block(fence, "\n".join(body) + "\n", section, start))
            fence = None
        else:
            body.append(line)
    return blocks


def blocks_of(language: str, *, sdk: bool | None = None) -> list[Block]:
    return [b for b in readme_blocks() if b.language == language and (sdk is None or (b.section == SDK_SECTION) == sdk)]


def shell_commands(block: Block) -> list[str]:
    """The block's commands: continuation lines joined, comments and blank lines dropped."""
    joined = block.text.replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]


def test_every_block_is_an_example_this_suite_runs_or_a_syntax_summary() -> None:
    blocks = readme_blocks()
    assert len(blocks) >= 20
    for block in blocks:
        assert block.language in ("python", "bash", "toml", "text"), (
            f"README.md line {block.line}: a ```{block.language} block is neither run by the suite nor a ```text "
            "syntax summary")
    assert len(blocks_of("python", sdk=True)) >= 7 and len(blocks_of("python", sdk=False)) == 2
    assert len(blocks_of("toml")) == 4 and len(blocks_of("text")) == 1


def test_python_examples_outside_the_sdk_section(server: ServerProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """The quick start's boto3 snippet (the endpoint from the environment) and the guardrails
    walkthrough (its hard-coded URL pointed at the test server), with the output each promises."""
    monkeypatch.chdir(tmp_path)
    quick_start, guardrails = blocks_of("python", sdk=False)
    assert quick_start.section == "Quick start" and guardrails.section == "Guardrails"
    exec(compile(quick_start.text, f"README.md:{quick_start.line}", "exec"), {})
    assert capsys.readouterr().out == "1024\n"
    assert README_URL in guardrails.text
    exec(compile(guardrails.text.replace(README_URL, server.url), f"README.md:{guardrails.line}", "exec"), {})
    assert capsys.readouterr().out == "[{'text': 'mail me at {EMAIL}'}]\n"


def test_quick_start_shell_examples(server: ServerProcess, tmp_path: Path) -> None:
    """`export …; python app_written_for_bedrock.py` with the quick start's boto3 snippet as that app,
    and the AWS CLI line (v1, which pip installs, sends blobs raw and has no --cli-binary-format)."""
    blocks = [b for b in blocks_of("bash") if b.section == "Quick start"]
    dev, exports, aws = blocks
    assert all(command.split("#")[0].strip() in NOT_EXAMPLES for command in shell_commands(dev))
    (tmp_path / "app_written_for_bedrock.py").write_text(blocks_of("python", sdk=False)[0].text)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "AWS_CONFIG_FILE": str(tmp_path / "none")}
    env.pop("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", None)
    ran = subprocess.run(["bash", "-ec", exports.text.replace(README_URL, server.url)], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=120)
    assert ran.returncode == 0 and ran.stdout == "1024\n", ran.stderr
    version = subprocess.run([str(BIN / "aws"), "--version"], capture_output=True, text=True, timeout=60)
    command = aws.text
    if (version.stdout + version.stderr).startswith("aws-cli/1."):
        command = command.replace("--cli-binary-format raw-in-base64-out ", "")
    env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = server.url
    ran = subprocess.run(["bash", "-ec", command], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert (tmp_path / "out.json").read_text().startswith('{"embedding": [')


def _png(color: tuple[int, int, int], size: tuple[int, int] = (320, 320), kind: str = "PNG") -> bytes:
    return image_bytes(shape_image(color, size=size), kind)


@pytest.fixture()
def users_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The files the shell examples name (photo.png, invoice.pdf, a.png, b.png, query.jpg, ~/Pictures),
    in a home and working folder of their own; the models are the `test` profile's."""
    home = tmp_path / "home"
    make_folder(home / "Pictures", 6)
    make_folder(home / "Pictures" / "2024", 2, start=6)
    work = tmp_path / "work"
    work.mkdir()
    (work / "photo.png").write_bytes(_png((200, 60, 40)))
    (work / "a.png").write_bytes(_png((40, 60, 200)))
    (work / "b.png").write_bytes(_png((40, 200, 60)))
    (work / "query.jpg").write_bytes(_png((200, 60, 40), kind="JPEG"))
    buffer = io.BytesIO()
    Image.open(io.BytesIO(_png((250, 250, 250), (300, 200)))).save(buffer, format="PDF")
    (work / "invoice.pdf").write_bytes(buffer.getvalue())
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("OUTCROP_PROFILE", "test")
    monkeypatch.setenv("OUTCROP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(work)
    return work


@pytest.mark.parametrize("section", ["Image generation: Stability SDXL, Titan Image Generator, Nova Canvas",
                                     "Vision understanding: Converse, ConverseStream, Anthropic messages", "Image search"])
def test_outcrop_command_examples(section: str, users_files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each `outcrop …` line of the section, as typed, through the CLI's entry point; each must succeed."""
    commands = [c for b in blocks_of("bash") if b.section == section for c in shell_commands(b)]
    assert commands and all(c.startswith("outcrop ") for c in commands)
    outputs: list[str] = []
    for command in commands:
        argv = [os.path.expanduser(arg) for arg in shlex.split(command, comments=True)[1:]]
        code = main(argv)
        out, err = capsys.readouterr()
        assert code == 0, f"{command}: exit {code}: {err}"
        outputs.append(out)
    for command, out in zip(commands, outputs):
        if "--json" in command:
            json.loads(out)
    if section.startswith("Image generation"):
        assert len(list((users_files / "images").glob("image-*-seed*.png"))) == 2
        assert len(list((users_files / "edits").glob("*.png"))) == 4
    if section == "Image search":
        assert str(users_files.parent / "home" / "Pictures") in outputs[2]  # the text query found the photos


def test_toml_examples_load(tmp_path: Path) -> None:
    """The model-table override, the engine override, a plugin package's entry points and the
    operator-guardrails file, through the code that reads them."""
    import tomllib

    from outcrop.guardrails.operator import load
    from outcrop.registry import load_model_table
    from outcrop.registry.plugins import ENGINE_GROUP, PROTOCOL_GROUP

    models, engine_override, entry_points, guardrails = blocks_of("toml")
    groups = tomllib.loads(entry_points.text)["project"]["entry-points"]
    assert set(groups) == {ENGINE_GROUP, PROTOCOL_GROUP}  # the groups outcrop reads
    assert all(":" in target for group in groups.values() for target in group.values())
    (tmp_path / "models.toml").write_text(models.text)
    entry = load_model_table("test", tmp_path / "models.toml").resolve("amazon.titan-embed-image-v1")
    assert entry.weights == "/srv/models/my-siglip" and dict(entry.options)["max_batch"] == 32
    (tmp_path / "engines.toml").write_text(engine_override.text)
    profile_chat = load_model_table("cpu").resolve("anthropic.claude-3-sonnet-20240229-v1:0")
    int4_chat = load_model_table("cpu", tmp_path / "engines.toml").resolve("anthropic.claude-3-sonnet-20240229-v1:0")
    assert dict(int4_chat.options) == dict(profile_chat.options) | {"quantize": "int4"}  # the profile's copy, one change
    assert (int4_chat.weights, int4_chat.engine) == (profile_chat.weights, profile_chat.engine)
    (tmp_path / "guardrails.toml").write_text(guardrails.text)
    assert set(load(tmp_path / "guardrails.toml")) == {"corpsafety"}
