"""Fine-tuning a pre-trained network on a small target set (chapter 1).

- which layers: ``named_layers``, ``freeze_layers``, ``transfer_layers``, ``count_parameters``;
- how fast: ``discriminative_param_groups``;
- how far from the start: ``L2SP`` (and plain L2 with ``reference="zero"``), ``weight_distance``;
- how few parameters: ``bitfit``, ``add_lora`` (``LoRALinear``, ``LoRAConv2d``);
- training: ``FineTune`` with ``tlbook.fit`` on ``few_labels(target, k)``;
- source models: ``pretrained`` (trained here, cached; ``torchvision="resnet18"`` swaps in an ImageNet model),
  ``torchvision_classifier`` (needs a network),
  ``pretrain_autoencoder`` (self-taught: no labels; ``Denoising`` on ``tlbook.fit``).
"""
from .discriminative import discriminative_param_groups
from .l2sp import L2SP, weight_distance
from .layers import (count_parameters, freeze, freeze_layers, frozen_layer_names, layer_names, named_layers,
                     transfer_layers, unfreeze)
from .method import FineTune, few_labels, fine_tune
from .peft import LoRAConv2d, LoRALinear, add_lora, bitfit
from .pretrained import pretrained, torchvision_backbone, torchvision_classifier
from .self_taught import ConvAutoencoder, Denoising, pretrain_autoencoder

__all__ = [
    "ConvAutoencoder", "Denoising", "FineTune", "L2SP", "LoRAConv2d", "LoRALinear", "add_lora", "bitfit", "count_parameters",
    "discriminative_param_groups", "few_labels", "fine_tune", "freeze", "freeze_layers", "frozen_layer_names", "layer_names",
    "named_layers", "pretrain_autoencoder", "pretrained", "torchvision_backbone", "torchvision_classifier", "transfer_layers", "unfreeze",
    "weight_distance",
]
