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


def replace_attribute(module, name, value):
    """Set ``module.name`` to ``value``; an ImportError if the module has no such name (another BasicSR than
    1.4.2, on which the replacement would silently do nothing)."""
    if not hasattr(module, name):
        raise ImportError(f'{module.__name__} has no {name}: msiagan patches BasicSR 1.4.2 '
                          '(pip install basicsr==1.4.2)')
    setattr(module, name, value)


alias_functional_tensor()
