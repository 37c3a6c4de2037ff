"""Models, registered in BasicSR's MODEL_REGISTRY on import."""
from .msiagan_model import MSIAGANModel

__all__ = ['MSIAGANModel']
