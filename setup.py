"""Install msiagan: ``pip install --no-build-isolation -e .`` (torch and torchvision first; see README).

A plain ``pip install --no-build-isolation .`` works too: the shipped weights (msiagan/weights/) are package data.
"""
from os import path as osp

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_requirements(name):
    with open(osp.join(HERE, name)) as f:
        return [line.split('#')[0].strip() for line in f if line.split('#')[0].strip()]


def read_version():
    namespace = {}
    with open(osp.join(HERE, 'msiagan', 'version.py')) as f:
        exec(f.read(), namespace)
    return namespace['__version__']


setup(
    name='msiagan',
    version=read_version(),
    description='MSIA-GAN low-light image enhancement (Atif and Yan, 2024) as a BasicSR plugin',
    long_description=open(osp.join(HERE, 'README.md')).read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['msiagan', 'msiagan.*']),
    package_data={'msiagan': ['data/meta_info/*.txt', 'weights/*.pth', 'weights/*.yml']},  # the shipped weights
    python_requires='>=3.11',
    install_requires=read_requirements('requirements.txt'),
    extras_require={'test': ['pytest'], 'onnx': ['onnx', 'onnxruntime', 'onnxscript']},  # onnxscript: torch.onnx.export
    entry_points={
        'console_scripts': [
            'msiagan-train = msiagan.train:main',
            'msiagan-test = msiagan.test:main',
            'msiagan-enhance = msiagan.enhance:main',
        ]
    },
    license='Apache-2.0',
)
