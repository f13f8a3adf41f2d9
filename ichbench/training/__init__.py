"""Training: the paper's windows and sampler, augmentation, the training loop and one (model, fold) job."""
