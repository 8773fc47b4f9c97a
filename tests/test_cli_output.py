"""The `outcrop` command line's shared behaviour, run as users run it (a subprocess): `--json` output
per command, one-line errors with the fix (`--debug` for the traceback), documented exit codes, a
closed pipe that ends quietly, no library noise on stderr, and examples in every `--help`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from images import image_bytes, shape_image
from search_helpers import make_folder
from servers import ServerProcess

COMMANDS = ["serve", "pull", "embed", "describe", "ocr", "compare", "index", "search", "dupes", "generate", "edit",
            "tls-init"]
ANSWER_KEYS = {"text", "model_id", "stop_reason", "usage"}


def outcrop(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "outcrop", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def pictures(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("cli-pictures")
    a, b = folder / "a.png", folder / "b.jpg"
    a.write_bytes(image_bytes(shape_image((220, 30, 30), size=(64, 64))))
    b.write_bytes(image_bytes(shape_image((30, 30, 220), size=(64, 64), shape="rectangle"), "JPEG"))
    return a, b


def test_help_documents_exit_codes_and_every_command_has_examples() -> None:
    top = outcrop("--help")
    assert top.returncode == 0 and "exit codes:" in top.stdout and "examples:" in top.stdout
    for code in ("0", "1", "2", "3", "130", "141"):
        assert f"\n  {code} " in top.stdout
    for command in COMMANDS:
        helped = outcrop(command, "--help")
        assert helped.returncode == 0, helped.stderr
        examples = helped.stdout.split("examples:\n", 1)[1]
        assert f"outcrop {command}" in examples and "--json" in helped.stdout and "--debug" in helped.stdout


def test_a_closed_pipe_ends_quietly() -> None:
    """`outcrop embed … | head`: the reader goes away before the answer is written."""
    process = subprocess.Popen([sys.executable, "-m", "outcrop", "embed", "--profile", "test", "--text", "赤い車"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    err = process.stderr.read().decode()
    assert process.wait(timeout=300) == 141 and err == ""
    shell = subprocess.run(["bash", "-c", f"'{sys.executable}' -m outcrop embed --profile test --text hi | head -c 20"],
                           capture_output=True, text=True, timeout=300)
    assert shell.stdout.startswith('{"embedding": [') and shell.stderr == ""


def test_library_noise_stays_out_unless_debugging() -> None:
    quiet = outcrop("embed", "--profile", "test", "--text", "a red car")
    assert quiet.returncode == 0 and quiet.stderr == ""
    for flags in (["--debug"], ["--log-level", "debug"]):
        loud = outcrop(*flags, "embed", "--profile", "test", "--text", "a red car")
        assert loud.returncode == 0 and "bos_token_id must be `None`" in loud.stderr  # transformers' own warning
        assert json.loads(loud.stdout)["embedding"]


def test_errors_are_one_line_with_the_fix_and_debug_adds_the_traceback(tmp_path: Path, pictures: tuple[Path, Path]) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    plain = outcrop("describe", str(notes), "--profile", "test")
    assert plain.returncode == 1 and plain.stderr == f"outcrop: {notes}: not a PNG, JPEG, GIF or WebP image\n"
    debug = outcrop("describe", str(notes), "--profile", "test", "--debug")
    assert debug.returncode == 1 and "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.rstrip().splitlines()[-1] == plain.stderr.rstrip()
    as_json = outcrop("describe", str(notes), "--profile", "test", "--json")
    assert as_json.returncode == 1 and as_json.stdout == ""
    assert json.loads(as_json.stderr) == {"error": {"type": "CliError", "message": f"{notes}: not a PNG, JPEG, GIF or WebP image",
                                                    "exit_code": 1}}
    refused = outcrop("describe", str(pictures[0]), "--model", "amazon.titan-embed-image-v1", "--profile", "test")
    assert refused.returncode == 1 and len(refused.stderr.splitlines()) == 1
    assert refused.stderr.startswith("outcrop: ValidationException: ")

    unreachable = outcrop("embed", "--text", "x", "--endpoint", "http://127.0.0.1:9")
    assert unreachable.returncode == 3 and len(unreachable.stderr.splitlines()) == 1
    assert "is `outcrop serve` running there?" in unreachable.stderr and "Traceback" not in unreachable.stderr
    unsigned = outcrop("embed", "--text", "x", "--endpoint", "http://127.0.0.1:9",
                       env={"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
                            "AWS_CONFIG_FILE": str(tmp_path / "none")})
    assert unsigned.returncode == 3 and "no AWS credentials" in unsigned.stderr and "AWS_ACCESS_KEY_ID" in unsigned.stderr
    usage = outcrop("embed", "--no-such-flag")
    assert usage.returncode == 2 and "unrecognized arguments: --no-such-flag" in usage.stderr


def test_json_answers_are_the_same_in_process_and_through_an_endpoint(server: ServerProcess,
                                                                      pictures: tuple[Path, Path]) -> None:
    a, b = map(str, pictures)
    local = outcrop("describe", a, "--max-tokens", "6", "--profile", "test", "--json")
    remote = outcrop("--json", "describe", a, "--max-tokens", "6", "--endpoint", server.url)  # the flag before the command
    assert local.returncode == remote.returncode == 0, local.stderr + remote.stderr
    assert local.stderr == remote.stderr == ""
    answer = json.loads(local.stdout)
    assert set(answer) == ANSWER_KEYS and answer == json.loads(remote.stdout)
    assert answer["model_id"] == "amazon.nova-lite-v1:0" and 0 < answer["usage"]["output_tokens"] <= 6
    assert set(answer["usage"]) == {"input_tokens", "output_tokens"} and answer["stop_reason"] in ("end_turn", "max_tokens")
    compared = outcrop("compare", a, b, "--max-tokens", "6", "--endpoint", server.url, "--json")
    assert compared.returncode == 0 and set(json.loads(compared.stdout)) == ANSWER_KEYS
    read = outcrop("ocr", a, "--max-tokens", "48", "--endpoint", server.url, "--json")
    assert read.returncode == 0, read.stderr
    json.loads(read.stdout)
    embedded = outcrop("embed", "--image", a, "--dimensions", "256", "--endpoint", server.url, "--json")
    assert set(json.loads(embedded.stdout)) >= {"embedding", "inputTextTokenCount"}


def test_image_commands_in_process_and_through_an_endpoint(server: ServerProcess, tmp_path: Path,
                                                          pictures: tuple[Path, Path]) -> None:
    """The SDK's bodies either way: the same seed gives the same bytes in-process and from the server."""
    made = outcrop("generate", "a lighthouse", "--profile", "test", "--steps", "10", "--seed", "5", "--out",
                   str(tmp_path / "gen"), "--json")
    assert made.returncode == 0 and made.stderr == "", made.stderr
    result = json.loads(made.stdout)
    assert result["model_id"] == "stability.stable-diffusion-xl-v1" and [i["seed"] for i in result["images"]] == [5]
    local_png = Path(result["images"][0]["path"]).read_bytes()
    remote = outcrop("generate", "a lighthouse", "--endpoint", server.url, "--steps", "10", "--seed", "5", "--out",
                     str(tmp_path / "remote"), "--json")
    assert remote.returncode == 0, remote.stderr
    remote_result = json.loads(remote.stdout)
    assert Path(remote_result["images"][0]["path"]).read_bytes() == local_png and local_png.startswith(b"\x89PNG")
    titan = outcrop("generate", "a lighthouse", "--endpoint", server.url, "--model", "amazon.titan-image-generator-v2:0",
                    "--size", "512x512", "-n", "2", "--seed", "9", "--out", str(tmp_path / "titan"))
    assert titan.returncode == 0 and len(titan.stdout.splitlines()) == 2  # plain output: one path a line
    refused = outcrop("generate", "x", "--endpoint", server.url, "--model", "amazon.titan-image-generator-v2:0", "--steps", "20")
    assert refused.returncode == 1 and "steps" in refused.stderr and len(refused.stderr.splitlines()) == 1

    cut = outcrop("edit", str(pictures[0]), "--task", "remove-background", "--profile", "test", "--out", str(tmp_path / "ed"),
                  "--json")
    assert cut.returncode == 0 and cut.stderr == "", cut.stderr
    edited = json.loads(cut.stdout)
    assert edited["model_id"] == "amazon.titan-image-generator-v2:0" and Path(edited["images"][0]["path"]).is_file()
    assert edited["images"][0]["seed"] is None
    varied = outcrop("edit", str(pictures[1]), "--task", "variation", "--similarity", "0.9", "-n", "2", "--seed", "3",
                     "--endpoint", server.url, "--out", str(tmp_path / "var"), "--json")
    assert varied.returncode == 0, varied.stderr
    assert len(json.loads(varied.stdout)["images"]) == 2
    no_mask = outcrop("edit", str(pictures[0]), "--task", "inpaint", "--prompt", "x", "--endpoint", server.url)
    assert no_mask.returncode == 1 and no_mask.stderr == "outcrop: give exactly one of --mask or --mask-prompt\n"


def test_json_of_index_search_dupes_pull_and_tls_init(tmp_path: Path) -> None:
    root = tmp_path / "pics"
    make_folder(root, 6)
    shutil.copy(root / "red_ellipse_0.jpg", root / "again.jpg")
    (root / "broken.png").write_bytes(b"not an image")
    env = {"OUTCROP_DATA_DIR": str(tmp_path / "data")}
    indexed = outcrop("index", str(root), "--profile", "test", "--json", env=env)
    assert indexed.returncode == 0, indexed.stderr
    summary = json.loads(indexed.stdout)
    assert list(summary) == ["collection", "total", "embedded", "reused", "unchanged", "deleted", "skipped", "seconds",
                             "images_per_s"]
    assert summary["total"] == 7 and summary["embedded"] + summary["reused"] == 7
    assert [s["path"] for s in summary["skipped"]] == [str(root / "broken.png")] and summary["skipped"][0]["reason"]
    hits = json.loads(outcrop("search", "--image", str(root / "again.jpg"), "-k", "2", "--profile", "test", "--json",
                              env=env).stdout)
    assert {h["path"] for h in hits} == {str(root / "again.jpg"), str(root / "red_ellipse_0.jpg")}
    groups = json.loads(outcrop("dupes", "--json", env=env).stdout)
    assert any({h["path"] for h in group} >= {str(root / "again.jpg"), str(root / "red_ellipse_0.jpg")} for group in groups)

    pulled = outcrop("pull", "--profile", "test", "--json")
    assert pulled.returncode == 0, pulled.stderr
    document = json.loads(pulled.stdout)  # the progress lines went to stderr
    assert document["profile"] == "test" and document["failed"] == [] and document["ready"]
    assert all(set(item) == {"weights", "revision", "path", "for"} for item in document["ready"])
    assert "ok:" in pulled.stderr

    tls = outcrop("tls-init", "--out", str(tmp_path / "tls"), "--json")
    assert tls.returncode == 0 and json.loads(tls.stdout)["cert"] == str(tmp_path / "tls" / "cert.pem")
    again = outcrop("tls-init", "--out", str(tmp_path / "tls"), "--json")
    assert again.returncode == 1 and "--force" in json.loads(again.stderr)["error"]["message"]


def test_index_and_search_embed_through_an_endpoint(server: ServerProcess, tmp_path: Path) -> None:
    """--endpoint: the SDK's embed_image/embed_text at the server, into the local collection."""
    root = tmp_path / "pics"
    make_folder(root, 4)
    env = {"OUTCROP_DATA_DIR": str(tmp_path / "data")}
    indexed = outcrop("index", str(root), "--endpoint", server.url, "--dimensions", "256", "--no-progress", "--json", env=env)
    assert indexed.returncode == 0, indexed.stderr
    summary = json.loads(indexed.stdout)
    assert summary["total"] == 4 and summary["embedded"] + summary["reused"] == 4
    target = sorted(root.iterdir())[0]
    hits = outcrop("search", "--image", str(target), "-k", "2", "--endpoint", server.url, "--dimensions", "256", "--json",
                   env=env)
    assert hits.returncode == 0, hits.stderr
    assert json.loads(hits.stdout)[0]["path"] == str(target)
