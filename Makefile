# The two commands a newcomer runs: `make demo` (the main job) and `make test` (every test).
# Both create .venv if it is missing. PyTorch is installed first, from TORCH (a CPU build by
# default); with a GPU, e.g. `make test TORCH="torch==2.13.0" TORCH_INDEX="--index-url <your CUDA wheel index>"`.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
TORCH_INDEX ?=
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pytest exits 5 when it collected no test: that is not a failure of the suite.
PYTEST = $(BIN)/python -m pytest
# Explicit paths: ruff would otherwise try to read the Jinja-templated pyproject.toml of the template.
LINT_PATHS := rlcore benchmarks tests hooks local_extensions.py

.PHONY: install test lint typecheck test-rlcore test-template demo bench release dist clean

$(STAMP): rlcore/pyproject.toml requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)" $(TORCH_INDEX)
	$(BIN)/python -m pip install --quiet -e "rlcore[dev]" -r requirements-dev.txt
	touch $@

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

typecheck: $(STAMP)
	cd rlcore && ../$(BIN)/mypy

test-rlcore: $(STAMP)
	cd rlcore && ../$(PYTEST) -q -n 2 || [ $$? -eq 5 ]

# Two workers, each test module on one of them (its baked projects and venvs are module fixtures).
test-template: $(STAMP)
	$(PYTEST) -q -n 2 --dist loadfile tests || [ $$? -eq 5 ]

test: lint typecheck test-rlcore test-template

# The main job: generate a project from this template into ./demo, install it editable next to
# this checkout's rlcore, run its tests, then train its example PPO agent on CartPole-v1 (the
# zoo's settings, 100k steps) through its one entry point, `python -m demo.train <agent>`; it
# prints where the evaluation and the learning curve are.
demo: $(STAMP)
	rm -rf demo
	$(BIN)/cookiecutter --no-input --output-dir . . project_name="rlcore demo" project_slug=demo package_name=demo example_agent=ppo rlcore_source=index init_git=no
	$(BIN)/python -m pip install --quiet -e "./demo[dev]"
	cd demo && ../$(BIN)/python -m pytest -q -p no:cacheprovider
	cd demo && ../$(BIN)/python -m demo.train ppo --env-id CartPole-v1 --seed 0 --run-dir runs/ppo-CartPole-v1/seed0

# Tag an rlcore release: v<rlcore.__version__>, the tag the template's git source pins. Refuses
# unless CHANGELOG.md has that version's dated section, the template's default rlcore_version
# agrees (tests/test_rlcore_pin.py) and the tree is committed. Push it: git push --follow-tags.
release: $(STAMP)
	@version=$$($(BIN)/python -c "import re, pathlib; print(re.search(r'__version__ = \"(.+)\"', pathlib.Path('rlcore/src/rlcore/_version.py').read_text()).group(1))"); \
	grep -q "^## \[$$version\] - " rlcore/CHANGELOG.md || { echo "rlcore/CHANGELOG.md has no dated [$$version] section"; exit 1; }; \
	$(PYTEST) -q -p no:cacheprovider tests/test_rlcore_pin.py || exit 1; \
	test -z "$$(git status --porcelain)" || { echo "commit everything first"; exit 1; }; \
	git tag -a "v$$version" -m "rlcore $$version" && echo "tagged v$$version"

# A wheelhouse: rlcore's wheel in $(DIST), for projects with rlcore_source=index
# (python -m pip install --find-links <path>/dist -e ".[dev]"). Needs only Python and pip.
DIST ?= dist
dist:
	$(PYTHON) -m pip wheel --quiet --no-deps --wheel-dir "$(DIST)" ./rlcore
	@ls "$(DIST)"/rlcore-*.whl

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) demo
