"""Thread settings for the PyTorch side of the benchmarks (imported by bench/torch_*.py).

Debian's torch calls OpenBLAS for matmul, and OpenBLAS ignores torch.set_num_threads, so its
thread count is set through ctypes as well. For recurrent models PyTorch's fastest use of N cores
here is 1 ATen thread + N OpenBLAS threads (N + N oversubscribes), see ../shared/reference/cho.py.
"""
import ctypes

import torch


def set_threads(blas_threads, aten_threads=None):
    """OpenBLAS gets blas_threads; ATen's own loops get aten_threads (default: the same)."""
    torch.set_num_threads(blas_threads if aten_threads is None else aten_threads)
    try:
        ctypes.CDLL("libopenblas.so.0").openblas_set_num_threads(blas_threads)
    except OSError:
        pass
