"""The TFLite flatbuffer schema as a Python module, for reading and patching flatbuffers.

The ``[deploy]`` extra's ``tflite-micro`` ships it without TensorFlow (fast to import); without
that extra, TensorFlow's own copy (the same generated code) is used.
"""

from __future__ import annotations

import functools
from types import ModuleType

__all__ = ["tflite_schema"]


@functools.lru_cache(maxsize=1)
def tflite_schema() -> ModuleType:
    """The generated ``schema_py_generated`` module (``Model``, ``BuiltinOperator``, ...)."""
    try:
        from tflite_micro.tensorflow.lite.micro.python import schema_py_generated
    except ImportError:
        from tensorflow.lite.python import schema_py_generated
    return schema_py_generated
