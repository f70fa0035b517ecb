"""Distances between two sets of features: the Frechet distance and KID.

The Frechet distance (Heusel et al. 2017) fits a Gaussian to each set of features and measures
||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^1/2). KID (Binkowski et al. 2018) is the unbiased squared
MMD with the polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over random subsets.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch


def frechet_distance(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to feature sets a (N, d) and b (M, d) (Heusel 2017)."""
    from scipy import linalg

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a singular product (collapsed samples) is regularized below
        covmean = linalg.sqrtm(s1 @ s2)
        if not np.isfinite(covmean).all():  # as pytorch-fid does
            eps = np.eye(len(s1)) * 1e-6
            covmean = linalg.sqrtm((s1 + eps) @ (s2 + eps))
    covmean = np.real(covmean)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def kid(
    a: torch.Tensor | np.ndarray,
    b: torch.Tensor | np.ndarray,
    subsets: int = 50,
    size: int = 1000,
    seed: int = 0,
    cap: int = 5000,
) -> tuple[float, float]:
    """Kernel Inception Distance (Binkowski 2018): mean and std of the unbiased MMD^2 over random subsets.

    The kernel matrices are computed once (each set capped at `cap` seeded rows) and the subsets index them.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    rng = np.random.default_rng(seed)
    a = a[rng.choice(len(a), cap, replace=False)] if len(a) > cap else a
    b = b[rng.choice(len(b), cap, replace=False)] if len(b) > cap else b
    d = a.shape[1]
    kaa, kbb, kab = (a @ a.T / d + 1) ** 3, (b @ b.T / d + 1) ** 3, (a @ b.T / d + 1) ** 3
    m = min(size, len(a), len(b))
    values = []
    for _ in range(subsets):
        i, j = rng.choice(len(a), m, replace=False), rng.choice(len(b), m, replace=False)
        kxx, kyy = kaa[np.ix_(i, i)], kbb[np.ix_(j, j)]
        off = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        values.append(off - 2 * kab[np.ix_(i, j)].mean())
    return float(np.mean(values)), float(np.std(values))
