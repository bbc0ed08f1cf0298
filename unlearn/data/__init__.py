"""The dataset: MUFAC's layout and reader, the synthetic stand-in, the forget-set draw,
the duplicate audit, and the decoded splits as tensors."""
