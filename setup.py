"""ppix2pix: pix2pix image-to-image translation for PaddlePaddle.

Paddle itself is an extra so that the user picks the build: ``pip install -e .[cpu]`` (paddlepaddle) or
``pip install -e .[gpu]`` (paddlepaddle-gpu; CUDA builds of Paddle 3 come from Paddle's own package index, see
README.md).
"""
import re

from setuptools import find_packages, setup

with open("ppix2pix/__init__.py", encoding="utf-8") as handle:
    VERSION = re.search(r'__version__ = "([^"]+)"', handle.read()).group(1)

with open("README.md", encoding="utf-8") as handle:
    LONG_DESCRIPTION = handle.read()

setup(
    name="ppix2pix",
    version=VERSION,
    description="pix2pix (paired image-to-image translation with conditional GANs) for PaddlePaddle",
    long_description=LONG_DESCRIPTION,
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.9",
    packages=find_packages(include=["ppix2pix", "ppix2pix.*"]),
    package_data={"ppix2pix.cli": ["demo_page.html"]},
    install_requires=[
        "numpy>=1.21",
        "opencv-python-headless>=4.5",
        "pillow>=9.1",
        "pyyaml>=5.4",
        "safetensors>=0.4",
        "scikit-image>=0.19",
        "visualdl>=2.5",
    ],
    extras_require={
        "cpu": ["paddlepaddle>=3.0"],
        "gpu": ["paddlepaddle-gpu>=3.0"],
        "onnx": ["paddle2onnx>=1.2", "onnxruntime>=1.16"],
        # The tests also exercise ONNX export and drive the demo page in the system's Chromium (Playwright downloads
        # no browser); the demo itself needs only the standard library.
        "test": ["pytest>=7", "playwright>=1.40", "paddle2onnx>=1.2", "onnxruntime>=1.16"],
    },
    entry_points={
        "console_scripts": [
            "ppix2pix-train=ppix2pix.cli.train:main",
            "ppix2pix-infer=ppix2pix.cli.infer:main",
            "ppix2pix-eval=ppix2pix.cli.evaluate:main",
            "ppix2pix-export=ppix2pix.cli.export:main",
            "ppix2pix-convert=ppix2pix.cli.convert:main",
            "ppix2pix-prepare-data=ppix2pix.cli.prepare_data:main",
            "ppix2pix-demo=ppix2pix.cli.demo:main",
            "ppix2pix-update-bn=ppix2pix.cli.update_bn:main",
        ],
    },
)
