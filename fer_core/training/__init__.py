"""Training: networks, the training loop, evaluation, ensembles, background jobs and reports."""
