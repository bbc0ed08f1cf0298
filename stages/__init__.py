"""Stage entry points (`python -m stages.<name>`). Importing `unlearn.core` first pins the CPU
kernels before any stage imports torch (unlearn/core/__init__.py)."""
import unlearn.core  # noqa: F401
