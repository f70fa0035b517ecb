"""Domain adaptation: DANN (Ganin et al. 2016) on MNIST -> MNIST-M, baselines, GRL sweeps, pseudo-labelling."""
