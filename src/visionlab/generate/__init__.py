"""Generative models: DCGAN (Radford et al. 2015) and conditional GANs, sweeps, interpolation, sample metrics."""
