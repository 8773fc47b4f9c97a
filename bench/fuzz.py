"""A long fuzz session: the suite's fuzz properties with many more cases.

- schemathesis against the server's /openapi.json (tests/test_fuzz_api.py), every operation;
- Hypothesis on every protocol parser, image decoding and base64 (tests/test_fuzz_parsers.py);
- Hypothesis on raw HTTP/1.1 request bytes and HTTP/2 frame sequences (tests/test_fuzz_framing.py).
Each property asserts no 5xx and no crash; the server must keep serving after each. Prints the cases
run per property and pytest's result line.

    HF_HUB_OFFLINE=1 PYTHONPATH=tests .venv/bin/python bench/fuzz.py [--examples 700] [--api-examples 400]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = ["tests/test_fuzz_api.py", "tests/test_fuzz_parsers.py", "tests/test_fuzz_framing.py"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=700, help="Hypothesis cases per parser and framing property")
    parser.add_argument("--api-examples", type=int, default=400, help="schemathesis cases per API operation")
    args = parser.parse_args()
    env = {**os.environ, "OUTCROP_FUZZ_EXAMPLES": str(args.examples), "OUTCROP_FUZZ_API_EXAMPLES": str(args.api_examples),
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "pytest", *FILES, "-q", "-s", "-p", "no:cacheprovider", "--timeout", "3600"],
                            cwd=ROOT, env=env, capture_output=True, text=True)
    output = result.stdout + result.stderr
    total = 0
    for line in output.splitlines():
        if "cases run:" in line:
            print(line.strip())
            counts = re.findall(r"'([^']+)': (\d+)", line)  # {'name': n, ...}, or a plain "...: n"
            total += sum(int(n) for name, n in counts if "responses" not in name) if counts else int(line.split()[-1])
    summary = [line for line in output.splitlines() if re.search(r"\d+ (passed|failed)", line)]
    print(f"total cases: {total} in {time.monotonic() - started:.0f} s; load average {os.getloadavg()[0]:.2f}")
    print(summary[-1] if summary else output[-3000:])
    if result.returncode != 0:
        print(output[-6000:])
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
