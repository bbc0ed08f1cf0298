"""Models and how they train: ResNet-18, recipes, augmentation, epochs and logits."""
