# Two commands set up a fresh machine and do the work (see README.md):
#   make run    install what is missing, then run the main job
#   make test   install what is missing, then lint and run the test suite
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup setup-test run test lint bench videos

setup:
	@./scripts/setup.sh

setup-test:
	@./scripts/setup.sh --browser

run: setup
	$(BIN)/robot-cl $(ARGS)

test: setup-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q $(ARGS)

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: setup
	$(BIN)/python benchmarks/sim_speed.py
	$(BIN)/python benchmarks/experts.py

videos: setup
	$(BIN)/python -m robot_cl.video --all
