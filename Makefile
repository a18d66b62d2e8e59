# Thin layer over the `animegan` CLI. `make install` builds a project-local .venv once; every other
# target installs first when pyproject.toml changed.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
ANIMEGAN := $(VENV)/bin/animegan
STAMP := $(VENV)/.install-stamp
# Machines without the local CPU wheel can point this at a CPU-only torch index.
TORCH_INDEX ?=
WEIGHTS ?= default
SIZE ?= 256
OUT ?= exports

# $(call q,VALUE): VALUE as one shell word, whatever it holds (spaces, quotes): `make student EVAL='my photos'`
q = '$(subst ','"'"',$(1))'

.PHONY: help install test demo pipeline train-demo train-teacher zoo zoo-report export-onnx export-tflite benchmark student student-sweep clean
DEMO_WEIGHTS := models/weights/animegan_demo.safetensors
DEMO_INIT := models/weights/animegan_demo_init.safetensors

help:
	@echo "make install      create .venv and install pinned dependencies (CPU torch first)"
	@echo "make test         run the test suite (what CI runs)"
	@echo "make demo         stylize the bundled photos with the embedded default model"
	@echo "make pipeline     run CONFIG=$(CONFIG) (prune, distill, INT8, ONNX/TFLite/TensorRT, benchmark, gate) into OUT=runs/pipeline; cached, resumable"
	@echo "make train-teacher  train the width-2.0 teacher for distillation (hours on 2 cores)"
	@echo "make zoo          train the zoo generators that INT8/TFLite defaults are measured on (~20 min)"
	@echo "make train-demo   retrain the embedded default from scratch (three stages: ~3.2 h on 2 cores, ~14 min with DEVICE=cuda)"
	@echo "make export-onnx  export WEIGHTS=$(WEIGHTS) to $(OUT)/ as ONNX"
	@echo "make benchmark    every variant of WEIGHTS=$(WEIGHTS) vs the FP32 original at SIZE=$(SIZE) -> results/benchmark/"
	@echo "make student     fast student of WEIGHTS=$(WEIGHTS): distill, prune, INT8, TFLite, benchmark (EVAL=photos OUT=folder)"
	@echo "make export-tflite  TFLite float32/float16/int8 files of WEIGHTS=$(WEIGHTS) at SIZE=$(SIZE) into $(OUT)/"

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(PY) -m pip install --quiet -e '.[dev,tflite]'
	# onnx2tf's own == pins would pull tensorflow 2.19 / numpy 1.26 / protobuf 4; its real needs are in [tflite]
	$(PY) -m pip install --quiet --no-deps onnx2tf==1.29.24
	@touch $(STAMP)

CONFIG ?= pipelines/default.toml
PIPELINE_OUT ?= $(if $(filter exports,$(OUT)),runs/pipeline,$(OUT))

# The staged pipeline of CONFIG into OUT (default runs/pipeline): finished stages are reused, a killed run resumes.
# SET='quantize.method=minmax data.eval_dir="my_photos"' overrides config values.
pipeline: install
	set -e; text=$(call q,$(SET)); eval "items=($$text)"; args=(); for s in "$${items[@]}"; do args+=(--set "$$s"); done; \
	$(ANIMEGAN) pipeline run $(call q,$(CONFIG)) -o $(call q,$(PIPELINE_OUT)) "$${args[@]}"

# one pytest-xdist worker per core (at most 4: each holds torch, ONNX Runtime and TensorFlow), each running whole test
# files with its share of the threads, the longest files first (tests/conftest.py)
TEST_WORKERS ?= $(shell n=$$(nproc); echo $$(( n > 4 ? 4 : n )))
test: install
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=25  # the slowest tests, so the suite's time stays visible

demo: install
	$(ANIMEGAN) demo --weights $(call q,$(WEIGHTS)) --output demo

# Reproduces the embedded default: offline demo data, stage 1 (colour-faithful reconstruction init, 2400 steps),
# stage 2 (GAN on the cel style set, 1600 steps), stage 3 (a 150-step colour polish), then the look and style
# evaluation on the 15 unseen pictures against the init phase and the previous default (zoo:duotone) that
# reports/demo quotes. Every stage resumes if interrupted (run the target again). On 2 CPU cores about 1.3 h + 1.8 h
# + 6 min; DEVICE=cuda runs stages 1-2 on a GPU (237 s + 221 s on an H200; stage 3 was run on the CPU).
DEVICE ?= cpu
train-demo: install
	$(ANIMEGAN) demo-data --output runs/demo-data
	$(ANIMEGAN) train --config train/configs/demo_init.toml --set run.device=$(call q,$(DEVICE))
	$(ANIMEGAN) train --config train/configs/demo.toml --set run.device=$(call q,$(DEVICE))
	$(ANIMEGAN) train --config train/configs/demo_polish.toml
	cp runs/demo-init/init_generator.safetensors $(DEMO_INIT)
	cp runs/demo-polish/generator.safetensors $(DEMO_WEIGHTS)
	$(ANIMEGAN) evaluate-style --weights $(DEMO_WEIGHTS) --baseline $(DEMO_INIT) --eval-dir runs/demo-data/unseen \
		--style runs/demo-data/cel --previous zoo:duotone --output models/weights/animegan_demo_style_eval --overwrite

# The zoo that quantization and export defaults are measured on (reports/zoo): besides the embedded default and its
# init-phase model, generators trained differently (hinge GAN loss, the paprika and shinkai loss balances, other
# seeds) from the init-phase model in short runs (about 7 min each on 2 cores; each resumes if interrupted).
ZOO := hinge_seed1 paprika_seed2 shinkai_seed3
zoo: install
	$(ANIMEGAN) demo-data --output runs/demo-data
	set -e; for name in $(ZOO); do \
		$(ANIMEGAN) train --config train/configs/zoo_$$name.toml; \
		cp runs/zoo/$$name/generator.safetensors models/weights/zoo_$$name.safetensors; \
	done

# Every INT8 setting on every zoo model, measured on validation and evaluation photos (about 1 hour on 2 cores)
zoo-report: install
	$(ANIMEGAN) zoo-report --output reports/zoo --overwrite $(ZOO_REPORT_FLAGS)  # the committed report is replaced

# The larger teacher for distillation (width 2.0, the demo recipe in one run: ~4x the base model's cost, a few
# hours on 2 cores; resumable). Then: animegan distill <pruned or width:W> --teacher runs/teacher-w2/generator.safetensors
train-teacher: install
	$(ANIMEGAN) demo-data --output runs/demo-data
	$(ANIMEGAN) train --config train/configs/teacher_w2.toml

export-onnx: install
	$(ANIMEGAN) export onnx --weights $(call q,$(WEIGHTS)) --size $(call q,$(SIZE)) --output $(call q,$(OUT)/animegan_$(SIZE).onnx)

# Every file is checked with LiteRT against the FP32 torch model; one below its threshold (FP32 60, FP16 45,
# INT8 30 dB) fails the target unless TFLITE_FLAGS=--allow-lossy (then it is kept and marked in the report).
# TFLITE_FLAGS="--target-psnr 35 --target-worst-psnr 30": integer files that hold 35 dB on average and 30 dB on
# the worst evaluation photo (default model: 42.5 dB, worst 32.5, 2.33 MB; see reports/tflite).
TFLITE_FLAGS ?=
export-tflite: install
	$(ANIMEGAN) export tflite --weights $(call q,$(WEIGHTS)) --size $(call q,$(SIZE)) --output $(call q,$(OUT)/tflite_$(SIZE)) $(TFLITE_FLAGS)

# Reuses exports/tflite_$(SIZE) from `make export-tflite` and builds whatever else is missing.
benchmark: install
	$(ANIMEGAN) benchmark --weights $(call q,$(WEIGHTS)) --sizes $(SIZE) --output results/benchmark \
		--tflite-dir $(call q,$(OUT)/tflite_{size}) $(if $(COMPARE),--compare $(call q,$(COMPARE)))

# The fast deploy student of WEIGHTS (any trained generator, public .pt included): pipelines/student.toml run by the
# pipeline runner (student-recipe writes its options into it): narrowing with the teacher's GroupNorm kept
# (STUDENT_FLAGS=--norm batch: a BatchNorm student folded into the convs), distillation with network slimming, pruning
# at 0.01, ONNX, INT8, TFLite, a benchmark against the FP32 original on EVAL (photos the recipe never trains or
# calibrates on) and the gate. Writes OUT/pipeline.json, report.md and report.html (default
# OUT: runs/student). Interrupted? Run it again: finished stages are reused and distillation resumes.
STUDENT_OUT = $(if $(filter command line environment,$(origin OUT)),$(OUT),runs/student)
student: install
	$(ANIMEGAN) student-recipe --weights $(call q,$(WEIGHTS)) --output $(call q,$(STUDENT_OUT)) $(if $(EVAL),--eval-dir $(call q,$(EVAL))) $(STUDENT_FLAGS)

# The Pareto sweep of reports/student: a student per width (artifacts only), then every width's torch/ONNX/INT8/TFLite
# files and the original's own variants measured in ONE benchmark run (same-run speedups), on the unseen photos.
SWEEP_WIDTHS ?= 1.0 0.5 0.375 0.25
SWEEP_OUT ?= runs/student-sweep
# the exported student's file stem: a GroupNorm student is exported as is, a BatchNorm one as its folded twin
# (matched on the option itself: STUDENT_FLAGS may hold --batch-size, which is not a BatchNorm student)
SWEEP_STEM = $(if $(or $(findstring --norm batch,$(STUDENT_FLAGS)),$(findstring --norm=batch,$(STUDENT_FLAGS))),student.folded,student)
student-sweep: install
	for w in $(SWEEP_WIDTHS); do \
		$(ANIMEGAN) student-recipe --weights $(WEIGHTS) --width $$w --output $(SWEEP_OUT)/w$$w --no-benchmark --no-gate \
			--tflite float32 full_integer_quant $(STUDENT_FLAGS) || exit 1; done
	$(ANIMEGAN) benchmark --weights $(WEIGHTS) --sizes $(SIZE) --formats onnx onnx-int8 tflite --photo-count 15 \
		--eval-dir "$$($(PY) -c 'from animegan_deploy.compress.photos import default_unseen_photos as d; print(d())')" \
		--tflite-dir '$(OUT)/tflite_{size}' --output $(SWEEP_OUT)/benchmark \
		--variants $(foreach w,$(SWEEP_WIDTHS),"w$(w) torch=$(SWEEP_OUT)/w$(w)/student/student.safetensors" \
			"w$(w) onnx=$(SWEEP_OUT)/w$(w)/export/onnx/model.onnx" \
			"w$(w) onnx int8=$(SWEEP_OUT)/w$(w)/quantize/model.int8.onnx" \
			"w$(w) tflite fp32=$(SWEEP_OUT)/w$(w)/export/tflite/$(SWEEP_STEM)_float32.tflite" \
			"w$(w) tflite int8=$(SWEEP_OUT)/w$(w)/export/tflite/$(SWEEP_STEM)_full_integer_quant.tflite")

clean:
	rm -rf stylized exports results .pytest_cache
