"""Make BasicSR 1.4.2 (the PyPI release) work on current torchvision, from outside site-packages.

Applied by ``import msiagan`` before anything imports ``basicsr``. Nothing installed is edited.
"""
import importlib
import sys


def alias_functional_tensor():
    """Re-expose ``torchvision.transforms.functional_tensor`` (renamed ``_functional_tensor`` in 0.17).

    ``basicsr/data/degradations.py`` imports ``rgb_to_grayscale`` from the old name at import time, so
    ``import basicsr`` fails on torchvision >= 0.17 without this alias. BasicSR master has the same fix.
    """
    old_name = 'torchvision.transforms.functional_tensor'
    try:
        importlib.import_module(old_name)
    except ImportError:
        sys.modules[old_name] = importlib.import_module('torchvision.transforms._functional_tensor')


alias_functional_tensor()
