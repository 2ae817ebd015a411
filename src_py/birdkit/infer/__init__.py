"""Inference: predicting soundscapes, ensembles, backends, worker pools, TTA, post-processing,
priors, the time budget, the submission file."""
