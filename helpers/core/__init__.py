"""What both tasks stand on, knowing no task: paths, device and precision, MNIST, backbones, augmentation, settings,
seeded epochs and AdamW, a run's start, metrics.json and checkpoints, provenance, statistics."""
