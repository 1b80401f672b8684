# Shortcuts for development; CI runs .ci/run.
.PHONY: setup run worker test lint fmt typecheck

setup:
	bash scripts/install.sh --dev

run:
	.venv/bin/heedful up --demo

worker:
	.venv/bin/heedful worker

test:
	bash scripts/test.sh

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/lint-imports

fmt:
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

typecheck:
	SECRET_KEY=x ALLOWED_HOSTS=x .venv/bin/mypy heedful
