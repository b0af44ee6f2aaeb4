"""Built-in objective: torchvision models trained on MNIST, Fashion-MNIST, CIFAR-10/100 or an image folder."""

from .objective import HYPERPARAMETERS, MODELS, VisionObjective

__all__ = ["HYPERPARAMETERS", "MODELS", "VisionObjective"]
