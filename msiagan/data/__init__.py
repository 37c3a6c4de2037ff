"""Datasets, registered in BasicSR's DATASET_REGISTRY on import."""
from .paired_lowlight_dataset import PairedLowLightDataset

__all__ = ['PairedLowLightDataset']
