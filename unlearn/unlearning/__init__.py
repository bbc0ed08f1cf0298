"""What the unlearning methods share (parameter importance, distillation, features,
gradient masks, value checks) and the runner that applies one method for one seed."""
