"""PK sampling: each batch holds P identities x K tracklets (the batch-hard triplet loss needs it).

Per epoch, every identity's tracklets are shuffled and cut into groups of K; batches then take one
group from each of P randomly chosen identities that still have groups left (reid-strong-baseline's
RandomIdentitySampler). An identity with fewer than K tracklets is topped up by sampling its own
tracklets with replacement (and a warning says so). Under DDP each rank takes every
``world_size``-th batch of the same epoch order, so every rank sees full P x K batches.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Iterator, Sequence

import numpy as np


class PKBatchSampler:
    def __init__(
        self,
        labels: Sequence[int],
        ids_per_batch: int,
        tracklets_per_id: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.p, self.k = ids_per_batch, tracklets_per_id
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.epoch = 0
        self.index: dict[int, list[int]] = defaultdict(list)
        for i, label in enumerate(labels):
            self.index[int(label)].append(i)
        if len(self.index) < self.p:
            raise ValueError(
                f"{len(self.index)} training identities is fewer than {self.p} identities per batch"
            )
        short = sorted(lbl for lbl, idx in self.index.items() if len(idx) < self.k)
        if short:
            warnings.warn(
                f"{len(short)} identities have fewer than {self.k} tracklets (e.g. label "
                f"{short[0]} has {len(self.index[short[0]])}); their batches repeat tracklets "
                "(sampled with replacement)",
                stacklevel=2,
            )
        self._cache: tuple[int, list[list[int]]] | None = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def batches(self) -> list[list[int]]:
        """This rank's batches for the current epoch (the count can vary slightly by epoch)."""
        if self._cache is None or self._cache[0] != self.epoch:
            self._cache = (self.epoch, self._epoch_batches(self.epoch))
        return self._cache[1]

    def _epoch_batches(self, epoch: int) -> list[list[int]]:
        rng = np.random.default_rng([self.seed, epoch])
        groups: dict[int, list[list[int]]] = {}
        for label in sorted(self.index):
            idx = list(rng.permutation(self.index[label]))
            if len(idx) < self.k:
                idx += list(rng.choice(self.index[label], size=self.k - len(idx), replace=True))
            n = len(idx) // self.k
            groups[label] = [idx[j * self.k : (j + 1) * self.k] for j in range(n)]
        batches: list[list[int]] = []
        available = [lbl for lbl in groups if groups[lbl]]
        while len(available) >= self.p:
            chosen = rng.choice(available, size=self.p, replace=False)
            batch: list[int] = []
            for label in chosen:
                batch.extend(int(i) for i in groups[int(label)].pop())
            batches.append(batch)
            available = [lbl for lbl in groups if groups[lbl]]
        usable = len(batches) - len(batches) % self.world_size  # same step count on every rank
        return batches[:usable][self.rank :: self.world_size]

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches())

    def __len__(self) -> int:
        return len(self.batches())
