"""The plumbing every stage's steps run on: the base DoFn, prefetching, progress, worker setup.

- `base_dofn`: the DoFn and PTransform every step derives from (settings, progress, object reports).
- `prefetch`: works on the next element on a thread while the last one's outputs go downstream.
- `progress`: rows and objects counted by workers, shown by the launcher.
- `worker_filesystems`: Beam's FileSystems configured on workers that Beam leaves bare.
- `allocator`: large freed blocks handed back to the system.
- `logs`: human or JSON log lines, with the account, request and run they are about.

The bottom floor: imports nothing of the pipeline's stages.
"""

__all__ = ["base_dofn", "prefetch", "progress", "worker_filesystems", "allocator", "logs"]
