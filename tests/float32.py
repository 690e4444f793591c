"""Float32 arithmetic under CPython, for checking firmware maths as the ESP32 does it (its
MicroPython floats are IEEE single precision; the host's are double)."""

import struct


def f32(x: float) -> float:
    """x rounded to the nearest IEEE single."""
    return struct.unpack("f", struct.pack("f", x))[0]


class F32(float):
    """A float whose arithmetic rounds every result to IEEE single precision, as on the ESP32.
    Results stay F32, so a float accumulator fed from it runs in float32 throughout."""

    def __new__(cls, v):
        return float.__new__(cls, f32(float(v)))

    def _op(fn):  # noqa: N805
        return lambda self, other: F32(fn(float(self), float(other)))

    __add__ = _op(lambda a, b: a + b)
    __radd__ = _op(lambda a, b: b + a)
    __sub__ = _op(lambda a, b: a - b)
    __rsub__ = _op(lambda a, b: b - a)
    __mul__ = _op(lambda a, b: a * b)
    __rmul__ = _op(lambda a, b: b * a)
    __truediv__ = _op(lambda a, b: a / b)
    __rtruediv__ = _op(lambda a, b: b / a)
