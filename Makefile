# Quick start: `make serve` (venv + install + server on 127.0.0.1:8080, profile auto), `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# PyTorch: every torchvision build on offer is a CUDA build, and a CUDA torchvision beside a CPU torch
# fails at import (see shared/TOOLCHAIN.md). So we install a matching pair. They run on the CPU too.
TORCH_PINS ?= torch==2.14.1 torchvision==0.29.1
HOST    ?= 127.0.0.1
PORT    ?= 8080
PROFILE ?= auto
PYTEST_ARGS ?=
# Test files run in this many pytest-xdist workers (--dist loadfile: a file's module fixtures start once). Much of
# the suite waits on servers and subprocesses, so 2 workers halve its time on a 2-core machine; 0 runs serially.
TEST_WORKERS ?= 2

# Debian packages the project uses at run time: Tesseract OCR (grounding for text extraction from images)
# and a CJK font (the OCR tests and bench render Japanese documents); chromium drives the playground's
# browser tests (tests/test_playground.py, through Playwright). Installed only when missing.
SYSTEM_PACKAGES ?= tesseract-ocr tesseract-ocr-jpn tesseract-ocr-eng fonts-noto-cjk chromium
SUDO ?= $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: serve test lint install install-dev bench clean system-deps

$(VENV)/.torch:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH_PINS)
	touch $@

$(VENV)/.installed: $(VENV)/.torch pyproject.toml
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(PIP) install -q -e '.[dev]' $(TORCH_PINS)
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

serve: install
	@echo "playground: http://$(HOST):$(PORT)/   API reference: http://$(HOST):$(PORT)/docs"
	$(VENV)/bin/outcrop serve --profile $(PROFILE) --host $(HOST) --port $(PORT)

system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		if command -v apt-get >/dev/null; then \
			echo "installing:$$missing"; \
			$(SUDO) apt-get -o DPkg::Lock::Timeout=600 update -q && \
			DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends $$missing; \
		else echo "warning: no apt-get; install$$missing yourself (OCR grounding stays off without tesseract)"; fi; \
	fi

# ruff everywhere; mypy --strict on the layers whose interfaces others build on.
STRICT_TYPED ?= src/outcrop/protocols src/outcrop/tasks src/outcrop/registry src/outcrop/server src/outcrop/runtime.py src/outcrop/retries.py
lint: install-dev
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy --strict $(STRICT_TYPED)

test: install-dev system-deps lint
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The quick benchmarks (ratios against the raw library, same run). The long ones take flags:
# bench/search.py --sizes 100000,1000000, bench/embeddings.py --siglip-large DIR,
# bench/generation.py --cpu-seed-request, bench/fuzz.py (a 10,000+ case fuzz session); see each file's docstring.
bench: install-dev
	HF_HUB_OFFLINE=1 PYTHONPATH=tests $(PY) bench/embeddings.py
	HF_HUB_OFFLINE=1 PYTHONPATH=tests $(PY) bench/generation.py
	HF_HUB_OFFLINE=1 PYTHONPATH=tests $(PY) bench/vision.py
	HF_HUB_OFFLINE=1 PYTHONPATH=tests $(PY) bench/load.py
	HF_HUB_OFFLINE=1 PYTHONPATH=tests $(PY) bench/search.py --sizes 100000

clean:
	rm -rf $(VENV) .pytest_cache
