"""DCGAN and conditional-GAN networks at 32x32 (Radford et al. 2015; Mirza & Osindero 2014).

The generator maps a noise vector z (nz, 1, 1) through transposed convolutions 1 -> 4 -> 8 -> 16 -> 32
with batch norm and ReLU, tanh at the end (images in [-1, 1]); the discriminator mirrors it with
strided convolutions, batch norm and LeakyReLU(0.2), and returns one logit per image (D(x) is its
sigmoid). The conditional pair follows the practical: the noise and the one-hot label go through
separate first blocks whose feature maps are concatenated along channels, in G and in D.

Options of D (`DSpec`): a projection discriminator for the CGAN (Miyato & Koyama 2018), a minibatch
standard-deviation feature (Karras et al. 2018), packing (PacGAN, Lin et al. 2018), spectral normalization
(SN-GAN, Miyato et al. 2018) and InfoGAN's categorical code (Chen et al. 2016) for the DCGAN.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class DSpec:
    """The discriminator's options: how the CGAN's D reads the label (`concat`: label planes, the practical's;
    `projection`), the minibatch-std group size (0: off), the number of images D judges at once (1: one) and
    the DCGAN D's normalization (`batch`: batch norm, the practical's; `spectral`: SN-GAN's) and the number
    of values of InfoGAN's categorical code (0: none)."""

    cond: str = "concat"
    mbstd: int = 0
    pack: int = 1
    norm: str = "batch"
    codes: int = 0


def _up(cin: int, cout: int, first: bool = False) -> list[nn.Module]:
    stride, pad = (1, 0) if first else (2, 1)  # 1x1 -> 4x4, else doubling
    conv = nn.ConvTranspose2d(cin, cout, 4, stride, pad, bias=False)
    return [conv, nn.BatchNorm2d(cout), nn.ReLU(True)]


def _down(cin: int, cout: int, norm: bool = True) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 4, 2, 1, bias=False)]
    if norm:
        layers.append(nn.BatchNorm2d(cout))
    layers.append(nn.LeakyReLU(0.2, True))
    return layers


def latent_code(z: torch.Tensor, codes: int) -> torch.Tensor:
    """InfoGAN's categorical code read from the noise itself: the index of the largest of z's first `codes`
    entries. For Gaussian z every index is equally likely (the entries are i.i.d.), so c ~ U{0..codes-1} comes
    with every draw of z, and sampling, frames and interpolation need nothing but z."""
    return z.view(len(z), -1)[:, :codes].argmax(dim=1)


class Generator(nn.Module):
    """DCGAN generator: z (B, nz) -> image (B, nc, 32, 32) in [-1, 1].

    With `codes` = K > 0 (InfoGAN, Chen et al. 2016) G reads a categorical code instead of z's first K
    entries: their one-hot argmax (`latent_code`) followed by z's other nz - K entries.
    """

    def __init__(self, nz: int = 100, ngf: int = 32, nc: int = 1, codes: int = 0) -> None:
        super().__init__()
        if codes >= nz:
            raise ValueError(f"an InfoGAN code of {codes} values needs nz > {codes}, got nz {nz}")
        self.nz, self.ngf, self.nc, self.codes = nz, ngf, nc, codes
        self.net = nn.Sequential(
            *_up(nz, ngf * 4, first=True),  # 4x4
            *_up(ngf * 4, ngf * 2),  # 8x8
            *_up(ngf * 2, ngf),  # 16x16
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),  # 32x32
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = z.view(len(z), -1)
        if self.codes:
            code = F.one_hot(latent_code(z, self.codes), self.codes).to(z.dtype)
            z = torch.cat([code, z[:, self.codes :]], dim=1)
        return self.net(z.view(len(z), -1, 1, 1))


class MinibatchStd(nn.Module):
    """The minibatch standard-deviation feature of ProGAN (Karras et al. 2018), one more constant map.

    The batch splits into groups of `group` images (image i in group i mod B/group, as Karras reshapes
    (group, B/group, ...)); per group, the standard deviation of every feature over the group's images,
    averaged over features and positions, is one number, appended to each image of the group as a constant
    map. A D that sees it can tell a batch of near-copies (a collapsed G) from real variety.
    """

    def __init__(self, group: int = 4) -> None:
        super().__init__()
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        group = min(self.group, b)
        if b % group:
            raise ValueError(f"minibatch std: a batch of {b} does not split into groups of {group}")
        y = x.float().view(group, b // group, c, h, w)
        std = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # (B/group,)
        return torch.cat([x, std.to(x.dtype).repeat(group).view(b, 1, 1, 1).expand(b, 1, h, w)], dim=1)


class Discriminator(nn.Module):
    """DCGAN discriminator: image (B, nc, 32, 32) -> logit (B,); with `mbstd` > 0 the minibatch-std map
    (groups of `mbstd`) joins the 4x4 features before the last convolution.

    With `codes` = K > 0 it also carries InfoGAN's Q head (a 4x4 convolution on the same 4x4 features, K
    logits), which `forward(x, parts=True)` returns beside D's logit: Q guesses the code G was given.
    """

    def __init__(self, ndf: int = 32, nc: int = 1, mbstd: int = 0, codes: int = 0) -> None:
        super().__init__()
        std: list[nn.Module] = [MinibatchStd(mbstd)] if mbstd else []
        self.net = nn.Sequential(
            *_down(nc, ndf, norm=False),  # 16x16
            *_down(ndf, ndf * 2),  # 8x8
            *_down(ndf * 2, ndf * 4),  # 4x4
            *std,
            nn.Conv2d(ndf * 4 + len(std), 1, 4, 1, 0, bias=False),  # 1x1
        )
        self.q = nn.Conv2d(ndf * 4 + len(std), codes, 4, 1, 0) if codes else None

    def forward(
        self, x: torch.Tensor, parts: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """D's logits (B,); with `parts`, (logits, the 4x4 features its last convolution reads, Q's code logits
        (B, K) or None without a code head)."""
        if not parts:
            return self.net(x).view(-1)
        h = self.net[:-1](x)
        return self.net[-1](h).view(-1), h, None if self.q is None else self.q(h).flatten(1)


class CondGenerator(nn.Module):
    """Conditional generator: (z (B, nz), y (B, K) one-hot or soft) -> image (B, nc, 32, 32).

    z and y each go through their own 1x1 -> 4x4 transposed convolution (2*ngf maps each); the maps
    are concatenated (4*ngf) and upscaled as in the DCGAN generator.
    """

    def __init__(self, nz: int = 100, ngf: int = 32, nc: int = 1, n_classes: int = 10) -> None:
        super().__init__()
        self.nz, self.ngf, self.nc, self.n_classes = nz, ngf, nc, n_classes
        self.z_branch = nn.Sequential(*_up(nz, ngf * 2, first=True))
        self.y_branch = nn.Sequential(*_up(n_classes, ngf * 2, first=True))
        self.net = nn.Sequential(
            *_up(ngf * 4, ngf * 2),  # 8x8
            *_up(ngf * 2, ngf),  # 16x16
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),  # 32x32
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        hz = self.z_branch(z.view(len(z), -1, 1, 1))
        hy = self.y_branch(y.view(len(y), -1, 1, 1).to(hz.dtype))
        return self.net(torch.cat([hz, hy], dim=1))


class CondDiscriminator(nn.Module):
    """Conditional discriminator: (image (B, nc, 32, 32), y (B, K)) -> logit (B,).

    The image and the label (one-hot broadcast to K constant 32x32 planes) each go through their own
    strided convolution (ndf/2 maps each, 16x16); the maps are concatenated and downscaled as in D.
    """

    def __init__(self, ndf: int = 32, nc: int = 1, n_classes: int = 10) -> None:
        super().__init__()
        half = max(1, ndf // 2)
        self.x_branch = nn.Sequential(*_down(nc, half, norm=False))
        self.y_branch = nn.Sequential(*_down(n_classes, half, norm=False))
        self.net = nn.Sequential(
            *_down(2 * half, ndf * 2),  # 8x8
            *_down(ndf * 2, ndf * 4),  # 4x4
            nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False),
        )

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        planes = y.view(len(y), -1, 1, 1).to(x.dtype).expand(-1, -1, x.shape[2], x.shape[3])
        return self.net(torch.cat([self.x_branch(x), self.y_branch(planes)], dim=1)).view(-1)


class ProjectionDiscriminator(nn.Module):
    """Projection discriminator (Miyato & Koyama 2018, "cGANs with Projection Discriminator"):
    D(x, y) = psi(phi(x)) + <embed(y), phi(x)>.

    phi is the DCGAN D's trunk on the image alone (B, 4*ndf, 4, 4), psi its last convolution, and embed(y)
    a learned (4*ndf, 4, 4) map per class (y one-hot or soft: y @ E), so the label enters only through the
    inner product: unlike label planes, D cannot satisfy the label with features that ignore the image.
    """

    def __init__(self, ndf: int = 32, nc: int = 1, n_classes: int = 10) -> None:
        super().__init__()
        self.phi = nn.Sequential(*_down(nc, ndf, norm=False), *_down(ndf, ndf * 2), *_down(ndf * 2, ndf * 4))
        self.psi = nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False)
        self.embed = nn.Linear(n_classes, ndf * 4 * 16, bias=False)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.phi(x)
        projection = (self.embed(y.view(len(y), -1).to(h.dtype)) * h.flatten(1)).sum(dim=1)
        return self.psi(h).view(-1) + projection


def init_paper(module: nn.Module) -> None:
    """DCGAN initialization: conv (and linear) weights ~ N(0, 0.02), batch-norm scale ~ N(1, 0.02), bias 0
    (Radford 2015)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def spectral(d: nn.Module) -> nn.Module:
    """SN-GAN's D (Miyato et al. 2018, "Spectral Normalization for GANs"): every convolution's weight divided by
    its largest singular value (one power iteration per training forward pass), the batch norms removed, so
    that D is 1-Lipschitz per layer; call after the weights' initialization."""
    for name, child in d.named_children():
        if isinstance(child, nn.BatchNorm2d):
            setattr(d, name, nn.Identity())
        elif isinstance(child, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            setattr(d, name, nn.utils.parametrizations.spectral_norm(child))
        else:
            spectral(child)
    return d


def build(
    conditional: bool,
    nz: int,
    ngf: int,
    ndf: int,
    nc: int,
    n_classes: int = 0,
    init: str = "paper",
    spec: DSpec = DSpec(),
) -> tuple[nn.Module, nn.Module]:
    """The (G, D) pair; `init` is `paper` (N(0, 0.02)) or `default` (PyTorch's own initialization); `spec`
    the D's options (a packed D reads `spec.pack` images stacked along channels; a spectral D is normalized
    after its initialization)."""
    if conditional and spec.cond == "projection":
        g: nn.Module = CondGenerator(nz, ngf, nc, n_classes)
        d: nn.Module = ProjectionDiscriminator(ndf, nc, n_classes)
    elif conditional:
        g, d = CondGenerator(nz, ngf, nc, n_classes), CondDiscriminator(ndf, nc, n_classes)
    else:
        g, d = Generator(nz, ngf, nc, spec.codes), Discriminator(ndf, nc * spec.pack, spec.mbstd, spec.codes)
    if init == "paper":
        init_paper(g)
        init_paper(d)
    if not conditional and spec.norm == "spectral":
        d = spectral(d)
    return g, d
