"""What every process that runs a Job's tasks sets for itself, whichever executor started it:
this process or a local worker (unlearn/core/executor.py), a Ray slot
(unlearn/core/executor_ray.py). Both executors import it; it imports neither, so the
dependency points one way: executor -> executor_ray -> worker.
"""


def set_threads_and_gpu(threads, gpu=None):
    """Set this process's torch intra-op threads and, for runs on a GPU, which GPU (`cuda`
    then means that one). Nothing CUDA is touched for CPU runs (gpu None). The `compute`
    section's own process settings are unlearn.core.compute.apply_to_process's."""
    import torch
    torch.set_num_threads(threads)
    if gpu is not None:
        torch.cuda.set_device(gpu)
