"""Plumbing every stage shares: errors, atomic writes, the params schema, how a model
computes (threads, precision) and where runs execute (local workers, Ray), profiling.

Importing it pins the CPU kernels that PyTorch, oneDNN and MKL pick to AVX2 (unless the
environment already names them), so that every x86-64 machine with AVX2 computes the same
bytes: measured on one machine, a 3-step ResNet-18 training gave different weights with
ATEN_CPU_CAPABILITY=default and =avx2, and with oneDNN limited to SSE4.1 and left free;
an AVX-512 machine picks other kernels again. Pins are read when torch loads its
kernels, so import `unlearn.core` (the stages and tests do) before torch. The cost: bf16 on
the CPU is emulated (docs/compute.md#cpu-kernels).
"""
import os

CPU_KERNEL_PINS = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
                   "MKL_CBWR": "AVX2"}
for _name, _value in CPU_KERNEL_PINS.items():
    os.environ.setdefault(_name, _value)
