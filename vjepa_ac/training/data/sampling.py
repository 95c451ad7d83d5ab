"""Deterministic, resumable data order shared by one process and N DDP ranks.

`DistributedSampler` deals a seeded per-epoch permutation round-robin over the ranks, so the W
per-rank batches of one step hold exactly the samples of the single-process batch of the same global
size. This subclass adds what resuming needs: starting inside an epoch, after the batches already used.
"""

from __future__ import annotations

from torch.utils.data import DistributedSampler


class ResumableDistributedSampler(DistributedSampler):
    def __init__(self, dataset, batch_size: int, world_size: int = 1, rank: int = 0, seed: int = 0,
                 shuffle: bool = True):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if len(dataset) < batch_size * world_size:
            raise ValueError(
                f"dataset has {len(dataset)} clips, fewer than one global batch of {batch_size * world_size} "
                f"({batch_size} per rank x {world_size} ranks)"
            )
        super().__init__(dataset, num_replicas=world_size, rank=rank, shuffle=shuffle, seed=seed, drop_last=True)
        self.batch_size = batch_size
        self.start_batch = 0

    @property
    def batches_per_epoch(self) -> int:
        return self.num_samples // self.batch_size

    def set_position(self, epoch: int, batch: int) -> None:
        if not 0 <= batch < self.batches_per_epoch:
            raise ValueError(f"batch {batch} outside an epoch of {self.batches_per_epoch} batches")
        self.set_epoch(epoch)
        self.start_batch = batch

    def __len__(self) -> int:
        return (self.batches_per_epoch - self.start_batch) * self.batch_size

    def __iter__(self):
        indices = list(super().__iter__())
        return iter(indices[self.start_batch * self.batch_size : self.batches_per_epoch * self.batch_size])
