"""Named random streams keyed by (seed, replication, patient, purpose).

Every stochastic purpose (``"hepatectomy.perioperative_death"``, ``"cohort.age"``...) has its own
stream. A patient's k-th uniform for a purpose depends only on the scenario seed, the replication,
the patient index, the purpose name and k. So the same patient sees the same draws for the same
purpose in every strategy (common random numbers), the results do not depend on how patients are
split over workers, and adding a purpose never shifts another one.

Speed: uniforms are drawn in numpy blocks of ``CHUNK`` patients x ``SLOTS`` draws, one block per
(purpose, chunk of patients), each from its own ``SeedSequence``. The purpose name enters the seed
through CRC32, a hash that is stable across processes and Python versions (unlike ``hash()``).
A patient that needs more than ``SLOTS`` draws of one purpose continues on an overflow generator
keyed by the same coordinates plus the patient's row, so long histories stay reproducible.
"""

from __future__ import annotations

import zlib

import numpy as np
from scipy.special import ndtri

CHUNK = 256  # patients per block: large enough to amortise generator set-up, small enough to stay in cache
SLOTS = 8  # uniforms per patient and purpose held in a block; the few who need more use the overflow
OVERFLOW_SIZE = 64  # uniforms per overflow refill
# Uniforms are drawn on [0, 1); a normal deviate is taken from them kept this far inside (0, 1), so
# that a draw of exactly 0 gives a finite deviate (about -7 standard deviations), not -inf.
UNIFORM_MARGIN = 1e-12


# Normal deviates of a purpose are buffered under this suffix, apart from the purpose's uniforms.
NORMAL_SUFFIX = "#normal"


def to_normal(uniforms: np.ndarray) -> np.ndarray:
    """Standard-normal deviates by the inverse CDF of uniforms kept inside (0, 1)."""
    return ndtri(np.clip(uniforms, UNIFORM_MARGIN, 1.0 - UNIFORM_MARGIN))


def stable_key(name: str) -> int:
    """A process-independent 32-bit key for a stream name."""
    return zlib.crc32(name.encode("utf-8"))


class RandomStreams:
    """All random numbers of one replication of one scenario."""

    def __init__(self, seed: int, replication: int, draw: int = 0) -> None:
        self.seed = int(seed)
        self.replication = int(replication)
        self.draw = int(draw)
        self._blocks: dict[tuple[str, int], np.ndarray] = {}
        self._rows: dict[int, dict[str, list[list[float]]]] = {}  # chunk -> purpose -> reversed rows
        # (purpose, patient, refill) -> reversed overflow uniforms, kept like the blocks so that the
        # strategies run one after another on the same patients set each generator up once.
        self._overflows: dict[tuple[str, int, int], np.ndarray] = {}

    def _seed_sequence(self, *key: int) -> np.random.SeedSequence:
        return np.random.SeedSequence(entropy=self.seed, spawn_key=(self.replication, self.draw, *key))

    def block(self, purpose: str, chunk: int) -> np.ndarray:
        """The ``CHUNK x SLOTS`` uniform block of ``purpose`` for patients in ``chunk``."""
        key = (purpose, chunk)
        found = self._blocks.get(key)
        if found is None:
            generator = np.random.Generator(np.random.PCG64(self._seed_sequence(stable_key(purpose), chunk)))
            found = generator.random((CHUNK, SLOTS))
            found.flags.writeable = False  # streams are shared between runs (experiments/runner.py)
            self._blocks[key] = found
        return found

    def reversed_rows(self, purpose: str, chunk: int) -> list[list[float]]:
        """The block as one reversed Python list per patient (so that pop() hands out draw 0, 1, 2...).

        Converted once per block rather than once per patient: a numpy slice and ``tolist`` per
        patient and purpose was the largest cost of drawing."""
        rows = self.chunk_rows(chunk)
        found = rows.get(purpose)
        if found is None:
            found = rows[purpose] = self.block(purpose, chunk)[:, ::-1].tolist()
        return found

    def reversed_normal_rows(self, purpose: str, chunk: int) -> list[list[float]]:
        """``reversed_rows`` of the purpose's standard-normal deviates (the inverse normal CDF of its
        uniforms), transformed once per block: a scalar ``ndtri`` per draw costs more than the draw."""
        rows = self.chunk_rows(chunk)
        key = purpose + NORMAL_SUFFIX
        found = rows.get(key)
        if found is None:
            found = rows[key] = to_normal(self.block(purpose, chunk))[:, ::-1].tolist()
        return found

    def chunk_rows(self, chunk: int) -> dict[str, list[list[float]]]:
        found = self._rows.get(chunk)
        if found is None:
            found = self._rows[chunk] = {}
        return found

    def release_chunk(self, chunk: int) -> None:
        """Forget the blocks of one chunk of patients (bounded memory when patients run chunk by chunk)."""
        self._rows.pop(chunk, None)
        for key in [k for k in self._blocks if k[1] == chunk]:
            del self._blocks[key]
        for overflow in [k for k in self._overflows if k[1] // CHUNK == chunk]:
            del self._overflows[overflow]

    def first_uniforms(self, purpose: str, patient_ids: np.ndarray) -> np.ndarray:
        """Draw 0 of ``purpose`` for many patients at once (used to build the cohort)."""
        patient_ids = np.asarray(patient_ids, dtype=np.int64)
        out = np.empty(len(patient_ids))
        chunks = patient_ids // CHUNK
        for chunk in np.unique(chunks):
            mask = chunks == chunk
            out[mask] = self.block(purpose, int(chunk))[patient_ids[mask] % CHUNK, 0]
        return out

    def overflow(self, purpose: str, patient_id: int, refill: int) -> list[float]:
        """Refill ``refill`` of one patient's ``purpose`` beyond its block, reversed (for pop())."""
        key = (purpose, patient_id, refill)
        found = self._overflows.get(key)
        if found is None:
            generator = np.random.Generator(
                np.random.PCG64(self._seed_sequence(stable_key(purpose), patient_id // CHUNK, patient_id % CHUNK, refill + 1))
            )
            found = self._overflows[key] = generator.random(OVERFLOW_SIZE)[::-1].copy()
        return found.tolist()

    def for_patient(self, patient_id: int) -> PatientStreams:
        return PatientStreams(self, patient_id)


class PatientStreams:
    """One patient's view: ``uniform(purpose)`` returns that purpose's next uniform."""

    __slots__ = ("_streams", "patient_id", "_chunk", "_row", "_buffers", "_refills", "_chunk_rows")

    def __init__(self, streams: RandomStreams, patient_id: int) -> None:
        self._streams = streams
        self.patient_id = patient_id
        self._chunk, self._row = divmod(patient_id, CHUNK)
        self._buffers: dict[str, list[float]] = {}
        self._refills: dict[str, int] = {}
        # purpose -> reversed rows of this patient's chunk, shared by the chunk's patients
        self._chunk_rows = streams.chunk_rows(self._chunk)

    def uniform(self, purpose: str) -> float:
        buffer = self._buffers.get(purpose)
        if not buffer:  # the hot path is one lookup and a pop; filling is _fill's
            buffer = self._fill(purpose, purpose, buffer, self._streams.reversed_rows)
        return buffer.pop()

    def normal(self, purpose: str) -> float:
        """A standard-normal deviate from the purpose's next uniform (inverse CDF, so common random
        numbers carry over). A purpose is drawn either as uniforms or as normals, never both."""
        key = purpose + NORMAL_SUFFIX
        buffer = self._buffers.get(key)
        if not buffer:
            buffer = self._fill(key, purpose, buffer, self._streams.reversed_normal_rows, normal=True)
        return buffer.pop()

    def _fill(self, key: str, purpose: str, buffer: list[float] | None, rows_of, normal: bool = False) -> list[float]:
        """The buffer ``key`` with draws in it: the patient's row of its chunk's block the first time, then
        the purpose's overflow (as normal deviates for a normal purpose)."""
        if buffer is None:
            rows = self._chunk_rows.get(key)
            if rows is None:
                rows = rows_of(purpose, self._chunk)
            buffer = self._buffers[key] = rows[self._row].copy()
        if not buffer:
            refill = self._refills.get(key, 0)
            self._refills[key] = refill + 1
            uniforms = self._streams.overflow(purpose, self.patient_id, refill)
            buffer.extend(to_normal(np.array(uniforms)).tolist() if normal else uniforms)
        return buffer

    def bernoulli(self, purpose: str, probability: float) -> bool:
        return self.uniform(purpose) < probability

    def choice(self, purpose: str, cumulative: tuple[float, ...]) -> int:
        """Index of the category whose cumulative probability first exceeds the uniform."""
        u = self.uniform(purpose)
        for index, bound in enumerate(cumulative):
            if u < bound:
                return index
        return len(cumulative) - 1
