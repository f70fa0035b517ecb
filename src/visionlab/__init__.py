"""visionlab: four classic deep-learning practicals on images as reproducible commands."""

__version__ = "0.1.0"
