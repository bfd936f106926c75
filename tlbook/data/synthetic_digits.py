"""Synthetic digits rendered from the fonts that matplotlib ships.

In the spirit of the "Synthetic Numbers" of Ganin et al. (JMLR 2016): printed
digits with random font, size, rotation, shear, stroke width, position, blur and
noise. Glyphs are rendered once per (font, stroke width, digit) with PIL; every
sample is then a random affine warp of a glyph done as a batched tensor
operation, so ten thousand images take about a second instead of a minute.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F

from .. import _checks

__all__ = ["FONT_FILES", "render_glyphs", "synthetic_digits"]

#: matplotlib's bundled fonts whose digits look like ordinary printed digits.
FONT_FILES = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf",
    "DejaVuSans-BoldOblique.ttf", "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf",
    "DejaVuSansMono-Oblique.ttf", "DejaVuSansMono-BoldOblique.ttf", "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSerif-BoldItalic.ttf",
    "STIXGeneral.ttf", "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf",
    "STIXGeneralBolIta.ttf", "cmr10.ttf", "cmb10.ttf", "cmss10.ttf", "cmtt10.ttf",
)
GLYPH_PX = 64  # canvas of one rendered glyph
STROKE_WIDTHS = (0, 1, 2, 3)  # extra outline in glyph pixels: thin to bold strokes
MAX_SIZE = 256  # pixels: the largest image side ``synthetic_digits`` renders


def _font_dir() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def _render(digit: str, font_path: Path, stroke: int) -> torch.Tensor:
    """One digit, centred on a ``GLYPH_PX`` canvas, its height ~60% of the canvas."""
    from PIL import Image, ImageDraw, ImageFont

    probe = ImageFont.truetype(str(font_path), 100)
    left, top, right, bottom = probe.getbbox("0")
    font = ImageFont.truetype(str(font_path), max(8, round(100 * 0.6 * GLYPH_PX / (bottom - top))))
    image = Image.new("L", (GLYPH_PX, GLYPH_PX), 0)
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = draw.textbbox((0, 0), digit, font=font, stroke_width=stroke)
    origin = ((GLYPH_PX - (right - left)) / 2 - left, (GLYPH_PX - (bottom - top)) / 2 - top)
    draw.text(origin, digit, fill=255, font=font, stroke_width=stroke, stroke_fill=255)
    return torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8).view(GLYPH_PX, GLYPH_PX)


def render_glyphs() -> torch.Tensor:
    """All glyphs as a float tensor ``(styles, 10, GLYPH_PX, GLYPH_PX)`` in ``[0, 1]``.

    A style is one (font, stroke width) combination.
    """
    font_dir = _font_dir()
    fonts = [font_dir / name for name in FONT_FILES if (font_dir / name).exists()]
    if not fonts:
        raise FileNotFoundError(f"none of matplotlib's fonts {FONT_FILES} found in {font_dir}")
    styles = [
        torch.stack([_render(str(d), font, stroke) for d in range(10)])
        for font in fonts
        for stroke in STROKE_WIDTHS
    ]
    return torch.stack(styles).float() / 255.0


def _random_affine(n: int, g: torch.Generator) -> torch.Tensor:
    """``n`` random 2×3 affine matrices (rotation, scale, shear, translation)."""
    u = lambda low, high: low + (high - low) * torch.rand(n, generator=g)  # noqa: E731
    angle = u(-20.0, 20.0) * math.pi / 180
    scale = u(0.75, 1.2)  # >1 zooms in: the digit fills more of the image
    shear = u(-0.25, 0.25)
    tx, ty = u(-0.12, 0.12), u(-0.12, 0.12)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    # Output coords -> input coords: rotate/scale, then shear along x.
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1] = cos + shear * sin, -sin + shear * cos
    theta[:, 1, 0], theta[:, 1, 1] = sin, cos
    theta[:, 0, 2], theta[:, 1, 2] = tx, ty
    return theta


def _gaussian_blur(images: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Blur each ``1×H×W`` image with its own Gaussian ``sigma`` (pixels, may be 0)."""
    radius = 2
    offsets = torch.arange(-radius, radius + 1, dtype=images.dtype)
    kernel = torch.exp(-offsets**2 / (2 * sigma.clamp_min(1e-3)[:, None] ** 2))
    kernel = kernel / kernel.sum(1, keepdim=True)  # n × 5, separable
    n, _, h, w = images.shape
    flat = images.view(1, n, h, w)
    flat = F.conv2d(F.pad(flat, (radius, radius, 0, 0), mode="replicate"), kernel.view(n, 1, 1, -1), groups=n)
    flat = F.conv2d(F.pad(flat, (0, 0, radius, radius), mode="replicate"), kernel.view(n, 1, -1, 1), groups=n)
    return flat.view(n, 1, h, w)


def synthetic_digits(n: int, image_size: int, seed: int, glyphs: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` grey synthetic digits ``(n, 1, image_size, image_size)`` in ``[0, 1]`` and labels.

    Labels are balanced (each digit ``n // 10`` or one more times) and shuffled.
    Deterministic for a given ``seed``. ``glyphs``: ``render_glyphs()``'s (rendered here when None).
    """
    where = "synthetic_digits"
    n = _checks.integer(n, "n", where)
    image_size = _checks.integer(image_size, "image_size", where)
    if image_size > MAX_SIZE:
        raise ValueError(f"{where}: image_size must be at most {MAX_SIZE} pixels, got {image_size}")
    seed = _checks.integer(seed, "seed", where, minimum=None)
    if glyphs is not None:
        _checks.tensor(glyphs, "glyphs", where, ndim=4, min_rows=1, what="glyphs (styles, 10, H, W)")
        if glyphs.shape[1] != 10 or glyphs.shape[2] == 0 or glyphs.shape[3] == 0:
            raise ValueError(f"{where}: glyphs must be glyphs (styles, 10, H, W), one per digit, got shape "
                             f"{tuple(glyphs.shape)}")
        if glyphs.device.type != "cpu":
            raise ValueError(f"{where}: glyphs must be on the CPU (the warps are drawn there), got {glyphs.device}")
        if not (glyphs.min() >= 0 and glyphs.max() <= 1):  # NaN fails both
            raise ValueError(f"{where}: glyphs must lie in [0, 1], got values from {glyphs.min():g} to {glyphs.max():g}")
    g = torch.Generator().manual_seed(seed)
    glyphs = render_glyphs() if glyphs is None else glyphs
    labels = torch.arange(n) % 10
    labels = labels[torch.randperm(n, generator=g)]
    styles = torch.randint(len(glyphs), (n,), generator=g)
    source = glyphs[styles, labels].unsqueeze(1)  # n × 1 × 64 × 64
    grid = F.affine_grid(_random_affine(n, g), [n, 1, 2 * image_size, 2 * image_size], align_corners=False)
    images = F.avg_pool2d(F.grid_sample(source, grid, align_corners=False), 2)  # anti-aliased
    images = _gaussian_blur(images, 0.9 * torch.rand(n, generator=g))
    ink = 0.55 + 0.45 * torch.rand(n, 1, 1, 1, generator=g)
    background = 0.2 * torch.rand(n, 1, 1, 1, generator=g)
    images = background + (ink - background) * images
    images = images + 0.04 * torch.randn(images.shape, generator=g)
    return images.clamp(0, 1), labels
