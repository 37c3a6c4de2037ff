# Set-up and the two everyday commands. Both create and use .venv at the repository root.
#   make demo   install, build the demo data, train on the CPU, write enhanced images and a side-by-side
#   make test   install and run the tests (CPU, a few minutes)
# The install (editable) also puts the import hook msiagan_basicsr_hook.pth in .venv: BasicSR's own commands run ours.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# torch/torchvision first, pinned, so that nothing later pulls another build; basicsr is an sdist whose
# build imports torch, hence --no-build-isolation, which needs setuptools and wheel in the venv (a
# Python 3.12 venv starts without them).
TORCH := torch==2.14.1 torchvision==0.29.1

.PHONY: install demo test clean-demo

install: $(VENV)/.installed

$(VENV)/.installed: setup.py requirements.txt msiagan_basicsr_hook.pth
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(TORCH) setuptools wheel
	$(PY) -m pip install --no-build-isolation -e '.[test,onnx,video]'
	touch $@

demo: install
	$(PY) scripts/data_preparation/make_demo_data.py --out datasets/demo
	$(PY) msiagan/train.py -opt options/demo.yml --quiet
	$(PY) scripts/metrics/demo_report.py --data datasets/demo/val --out demo_output

test: install
	$(PY) -m pytest -q tests

clean-demo:
	rm -rf datasets/demo experiments/demo experiments/demo_archived_* demo_output
