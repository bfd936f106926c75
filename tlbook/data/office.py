"""Office-31 and Office-Home, the object-recognition benchmarks of domain adaptation, read from a folder
of images in the layout their archives unpack to (``torchvision.datasets.ImageFolder``'s: one folder per
class). Neither has a stable download address, so they are placed by hand:

- Office-31 (Saenko et al., ECCV 2010), ``domain_adaptation_images.tar.gz`` unpacked into
  ``<TLBOOK_DATA>/downloads/office31/``: ``amazon/images/<class>/*.jpg``, and so for ``dslr`` and
  ``webcam``; 31 classes, 2,817 / 498 / 795 images.
- Office-Home (Venkateswara et al., CVPR 2017), ``OfficeHomeDataset_10072016.zip`` unpacked into
  ``<TLBOOK_DATA>/downloads/office-home/``: ``Art/<Class>/*.jpg``, and so for ``Clipart``, ``Product``
  and ``Real World`` (or ``Real_World``; also accepted inside ``OfficeHomeDataset_10072016/``); 65 classes.

The protocol of the papers that report on them is transductive: a method trains on every labelled source
image and every unlabelled target image, and is scored on the same target images. So a domain's train
and test splits are the same images (one tensor). Images are resized to ``size × size`` (the papers
crop 224 × 224 out of 256 × 256; a crop of a resized image and a resize differ little for this use).
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from .. import _checks
from .benchmarks import MAX_SIZE, DatasetUnavailable, downloads

__all__ = ["OFFICE31_CLASSES", "OFFICE_HOME_CLASSES", "OFFICE_DOMAINS", "office_domain"]

OFFICE31_CLASSES = (
    "back_pack bike bike_helmet bookcase bottle calculator desk_chair desk_lamp desktop_computer file_cabinet "
    "headphones keyboard laptop_computer letter_tray mobile_phone monitor mouse mug paper_notebook pen phone "
    "printer projector punchers ring_binder ruler scissors speaker stapler tape_dispenser trash_can").split()

OFFICE_HOME_CLASSES = (
    "Alarm_Clock Backpack Batteries Bed Bike Bottle Bucket Calculator Calendar Candles Chair Clipboards Computer "
    "Couch Curtains Desk_Lamp Drill Eraser Exit_Sign Fan File_Cabinet Flipflops Flowers Folder Fork Glasses "
    "Hammer Helmet Kettle Keyboard Knives Lamp_Shade Laptop Marker Monitor Mop Mouse Mug Notebook Oven Pan "
    "Paper_Clip Pen Pencil Postit_Notes Printer Push_Pin Radio Refrigerator Ruler Scissors Screwdriver Shelf "
    "Sink Sneakers Soda Speaker Spoon TV Table Telephone ToothBrush Toys Trash_Can Webcam").split()

#: domain -> (dataset folder, folder of the domain inside it, class list, number of images in the archive)
OFFICE_DOMAINS: dict[str, tuple[str, str, list[str], int]] = {
    "amazon": ("office31", "amazon/images", OFFICE31_CLASSES, 2817),
    "dslr": ("office31", "dslr/images", OFFICE31_CLASSES, 498),
    "webcam": ("office31", "webcam/images", OFFICE31_CLASSES, 795),
    "art": ("office-home", "Art", OFFICE_HOME_CLASSES, 2427),
    "clipart": ("office-home", "Clipart", OFFICE_HOME_CLASSES, 4365),
    "product": ("office-home", "Product", OFFICE_HOME_CLASSES, 4439),
    "real-world": ("office-home", "Real World", OFFICE_HOME_CLASSES, 4357),
}
ARCHIVES = {"office31": "domain_adaptation_images.tar.gz", "office-home": "OfficeHomeDataset_10072016.zip"}
EXTENSIONS = (".jpg", ".jpeg", ".png")


def _domain_folder(name: str) -> Path:
    dataset, inside, _, _ = OFFICE_DOMAINS[name]
    root = downloads(dataset)
    spellings = dict.fromkeys([inside, inside.replace(" ", "_")])  # "Real World", or "Real_World" in some copies
    for candidate in (base / spelling for base in (root, root / "OfficeHomeDataset_10072016") for spelling in spellings):
        if candidate.is_dir():
            return candidate
    raise DatasetUnavailable(f"{name} is not available: found no {root / inside}. It cannot be downloaded here (no stable "
                             f"address): unpack {ARCHIVES[dataset]} into {root}, so that {root / inside} holds one "
                             "folder of images per class")


def office_domain(name: str, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Domain ``name``'s images as uint8 ``N×3×size×size`` and labels (class index in the published list),
    as train and test: the same tensors (the transductive protocol). The class folders must be exactly
    the published ones; a different number of images than the archive's is reported, not refused."""
    from PIL import Image

    if not isinstance(name, str):
        raise TypeError(f"office_domain: name must be an Office domain's name (a str), got {type(name).__name__} {name!r}")
    if name not in OFFICE_DOMAINS:
        raise ValueError(f"office_domain: unknown Office domain name {name!r}; known: {', '.join(OFFICE_DOMAINS)}")
    size = _checks.integer(size, "size", "office_domain")
    if size > MAX_SIZE:
        raise ValueError(f"office_domain: size must be at most {MAX_SIZE} pixels, got {size}")
    folder, (_, _, classes, expected) = _domain_folder(name), OFFICE_DOMAINS[name]
    found = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if found != sorted(classes):
        missing, extra = sorted(set(classes) - set(found)), sorted(set(found) - set(classes))
        raise ValueError(f"{folder} should hold one folder for each of the {len(classes)} published classes; "
                         f"missing: {', '.join(missing) or 'none'}; not expected: {', '.join(extra) or 'none'}")
    images, labels = [], []
    for label, cls in enumerate(classes):
        for path in sorted(p for p in (folder / cls).iterdir() if p.suffix.lower() in EXTENSIONS):
            with Image.open(path) as image:
                resized = image.convert("RGB").resize((size, size), Image.BILINEAR)
            images.append(np.asarray(resized).transpose(2, 0, 1))
            labels.append(label)
    if len(images) != expected:
        warnings.warn(f"{name}: {len(images)} images in {folder}, the published archive has {expected}; "
                      "numbers from this copy may not compare with the papers'", stacklevel=2)
    x, y = torch.from_numpy(np.stack(images)), torch.tensor(labels, dtype=torch.int64)
    return x, y, x, y
