"""outcrop: Amazon Bedrock's multimodal runtime on your own hardware.

Importing the package is cheap on purpose: torch, transformers and diffusers load only when an
engine first needs them.
"""

__version__ = "0.1.0"
