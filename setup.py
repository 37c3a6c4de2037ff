"""Install msiagan: ``pip install --no-build-isolation -e .`` (torch and torchvision first; see README).

A plain ``pip install --no-build-isolation .`` works too: the shipped weights (msiagan/weights/) are package data.
Every install (wheel, ``pip install .``, editable) puts ``msiagan_basicsr_hook.pth`` in site-packages, listed in the
RECORD so that uninstalling removes it: BasicSR's own commands then run msiagan (docs/training.md).
"""
import base64
import hashlib
import os
import zipfile
from glob import glob
from os import path as osp

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = osp.dirname(osp.abspath(__file__))
HOOK_PTH = 'msiagan_basicsr_hook.pth'


class BuildPyWithHook(build_py):
    """build_py, plus the hook's .pth at the root of build_lib, hence of the wheel (editable builds: see below)."""

    def run(self):
        super().run()
        if not getattr(self, 'editable_mode', False):
            self.copy_file(osp.join(HERE, HOOK_PTH), osp.join(self.build_lib, HOOK_PTH), preserve_mode=False)

    def get_outputs(self, include_bytecode=True):
        extra = [] if getattr(self, 'editable_mode', False) else [osp.join(self.build_lib, HOOK_PTH)]
        return super().get_outputs(include_bytecode) + extra


def add_to_wheel(wheel, name, data):
    """Rewrite ``wheel`` with the file ``name`` (bytes ``data``) at its root, and its line in the RECORD."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
    rewritten = wheel + '.tmp'
    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(rewritten, 'w', zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename.endswith('.dist-info/RECORD'):
                target.writestr(name, data)
                content = content.rstrip(b'\n') + f'\n{name},sha256={digest},{len(data)}\n'.encode()
            target.writestr(info, content)
    os.replace(rewritten, wheel)


def editable_wheel_with_hook():
    """setuptools' editable_wheel (PEP 660), plus the hook's .pth at the wheel's root: editable builds leave
    build_lib out of the wheel, so build_py cannot put it there."""
    try:
        from setuptools.command.editable_wheel import editable_wheel
    except ImportError:  # setuptools < 64: no PEP 660 builds
        return {}

    class EditableWheelWithHook(editable_wheel):
        def run(self):
            super().run()
            with open(osp.join(HERE, HOOK_PTH), 'rb') as f:
                data = f.read()
            for wheel in glob(osp.join(str(self.dist_dir), '*.editable-*.whl')):
                with zipfile.ZipFile(wheel) as archive:
                    if HOOK_PTH in archive.namelist():
                        continue
                add_to_wheel(wheel, HOOK_PTH, data)

    return {'editable_wheel': EditableWheelWithHook}


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
    py_modules=['msiagan_basicsr_hook'],  # the import hook: standard library only (msiagan_basicsr_hook.pth)
    cmdclass={'build_py': BuildPyWithHook, **editable_wheel_with_hook()},
    package_data={'msiagan': ['data/meta_info/*.txt', 'weights/*.pth', 'weights/*.yml']},  # the shipped weights
    python_requires='>=3.11',
    install_requires=read_requirements('requirements.txt'),
    extras_require={'test': ['pytest'], 'onnx': ['onnx', 'onnxruntime', 'onnxscript'],  # onnxscript: torch.onnx.export
                    'video': ['av>=18']},  # PyAV: FFmpeg's libraries in its wheels (msiagan.data.video_io)
    entry_points={
        'console_scripts': [
            'msiagan-train = msiagan.train:main',
            'msiagan-test = msiagan.test:main',
            'msiagan-enhance = msiagan.enhance:main',
        ]
    },
    license='Apache-2.0',
)
