"""Training: the loop, one run of folds, its data, distributed training, self-training, validation on soundscapes."""
