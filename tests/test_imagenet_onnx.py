"""The default describer's classifier through ONNX Runtime (lucida.models.imagenet): the same
probabilities as through torch, and an index run's describer that never imports torch."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from PIL import Image

from lucida.models.imagenet import ImageNetDescriber
from lucida.samples import SAMPLE_PHOTOS


def test_the_classifier_gives_torchs_probabilities_through_onnx_runtime(monkeypatch):
    images = [Image.fromarray(sample.load()).convert("RGB") for sample in SAMPLE_PHOTOS]
    exported = ImageNetDescriber()
    assert exported._session is not None and exported._model is None
    monkeypatch.setenv("LUCIDA_RUNTIME", "torch")
    through_torch = ImageNetDescriber()
    assert through_torch._session is None
    found, expected = exported.class_probabilities(images), through_torch.class_probabilities(images)
    assert found.shape == expected.shape == (len(images), 1000)
    assert np.abs(found - expected).max() < 1e-4
    assert [d.text for d in exported.describe(images)] == [d.text for d in through_torch.describe(images)]


def test_describing_in_a_new_process_never_imports_torch(sample_photos, describer):
    # `describer` (the session's default describer) has made the export already.
    script = (
        "import sys, json\n"
        "from PIL import Image\n"
        "from lucida.models import DEFAULT_DESCRIBER, load_describer\n"
        "describer = load_describer(DEFAULT_DESCRIBER)\n"
        f"text = describer.describe([Image.open({str(sample_photos / 'chelsea.jpg')!r})])[0].text\n"
        "print(json.dumps({'text': text, 'torch': 'torch' in sys.modules}))\n"
    )
    found = json.loads(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout)
    assert "Egyptian cat" in found["text"] and found["torch"] is False
