"""Several threads on one shared pipeline (as browser sessions share the cached model) give the
same answers as one thread, and decoding is thread-safe too."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from fer_core.data.imageio import decode_image
from fer_core.inference.classifier import get_classifier
from fer_core.inference.detection import make_detector
from fer_core.inference.pipeline import Pipeline
from tests.conftest import YUNET, need_shared
from tests.corpus.make_bad_corpus import corpus_cases


def _images(astronaut: np.ndarray) -> list[np.ndarray]:
    small = astronaut[::2, ::2]
    pair = np.zeros((512, 1024, 3), np.uint8)
    pair[:, :512] = astronaut
    pair[128:384, 640:896] = small
    return [astronaut, np.ascontiguousarray(astronaut[:, ::-1]), pair, np.full((240, 320, 3), 90, np.uint8)]


def _summary(faces) -> list[tuple]:
    return [(f.box.as_tuple(), f.is_largest, f.label, np.array(list(f.probabilities.values()))) for f in faces]


def _same(a: list[tuple], b: list[tuple]) -> bool:
    return len(a) == len(b) and all(
        x[:3] == y[:3] and np.allclose(x[3], y[3], atol=1e-5) for x, y in zip(a, b))


@pytest.mark.parametrize("detector", ["haar", "yunet"])
def test_threads_agree_with_one_thread(tiny_model_dir, astronaut, detector):
    if detector == "yunet":
        need_shared(YUNET)
    pipe = Pipeline(get_classifier(tiny_model_dir), make_detector(detector))
    images = _images(astronaut)
    reference = [_summary(pipe.analyze(img)) for img in images]
    assert any(len(r) >= 1 for r in reference)
    jobs = [i for _ in range(4) for i in range(len(images))]
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda i: (i, _summary(pipe.analyze(images[i]))), jobs))
    bad = [i for i, r in results if not _same(r, reference[i])]
    assert not bad, f"images {sorted(set(bad))} differ when analysed concurrently"


def test_concurrent_decoding_agrees():
    payloads = [(c.name, p) for c, p in corpus_cases() if c.expect == "ok" and p]
    reference = {name: decode_image(p, name) for name, p in payloads}
    jobs = payloads * 3
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda item: (item[0], decode_image(item[1], item[0])), jobs))
    assert all(np.array_equal(reference[name], arr) for name, arr in results)
