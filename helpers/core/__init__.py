"""What both tasks stand on, knowing no task: paths, device and precision, MNIST, backbones, augmentation, settings,
training steps, checkpoints, provenance, statistics."""
