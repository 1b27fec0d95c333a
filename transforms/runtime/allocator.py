"""Large freed blocks go back to the system when they are freed, so a worker's RSS follows what it holds.

Besides Arrow's pool, a worker allocates through glibc's malloc: numpy arrays (the writer's row order,
Avro's varints), Python bytes (compressed chunks, the in-memory spool), the JSON reader's buffers.
glibc maps a block of 128 KiB or more on its own and unmaps it when it is freed, but then raises that
threshold to the size of the block freed (up to 32 MiB), so from then on such blocks come from its heaps,
whose free middle it keeps: through the write stage that free memory was a large share of a worker's RSS.
Setting the threshold (`mallopt(M_MMAP_THRESHOLD)`) keeps it fixed, so blocks at least that big are
always mapped and unmapped on their own; the price is the page faults of mapping them afresh, which
costs some CPU on the distinct store and little on the natural one (docs/performance.md has the figures).
"""

import ctypes
import functools

__all__ = ["return_large_blocks", "MMAP_THRESHOLD"]

_M_MMAP_THRESHOLD = -3   # glibc's malloc.h
MMAP_THRESHOLD = 1 << 20


@functools.cache
def return_large_blocks():
    """Once per process; True where glibc took the setting (elsewhere there is nothing to set)."""
    try:
        libc = ctypes.CDLL(None)   # the process's own symbols, libc's among them (as arrow_text's memchr)
        mallopt = libc.mallopt
        libc.gnu_get_libc_version   # glibc's own symbol: musl and others have another malloc
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
