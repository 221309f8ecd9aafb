"""The \\set functions and pgbench's arithmetic: int64 overflow, C division, the random draws.

Each function has pgbench's semantics and its argument checks, with pgbench's messages
(raised as ArithmeticError; the caller names the script's line).
"""

import math
from collections.abc import Callable

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MIN_GAUSSIAN_PARAM = 2.0
MIN_ZIPFIAN_PARAM, MAX_ZIPFIAN_PARAM = 1.001, 1000.0


def _int64(value: int) -> int:
    if not INT64_MIN <= value <= INT64_MAX:
        raise ArithmeticError("bigint out of range")
    return value


def to_int(value: int | float) -> int:
    """pgbench's coerceToInt: doubles are rounded (rint) and must fit in int64."""
    if isinstance(value, float):
        if math.isnan(value) or not INT64_MIN <= value < 2.0**63:
            raise ArithmeticError("double to int overflow for " + repr(value))
        return int(round(value))
    return value


def arith(op: str, a, b):
    if op == "%":
        a, b = to_int(a), to_int(b)
        if b == 0:
            raise ArithmeticError("division by zero")
        return int(math.fmod(a, b)) if abs(a) < 2**53 else a - b * int(a / b)
    if isinstance(a, float) or isinstance(b, float):
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if b == 0:
            raise ArithmeticError("division by zero")
        return a / b
    if op == "+":
        return _int64(a + b)
    if op == "-":
        return _int64(a - b)
    if op == "*":
        return _int64(a * b)
    if b == 0:
        raise ArithmeticError("division by zero")
    quotient = abs(a) // abs(b)  # C division truncates toward zero
    return _int64(quotient if (a >= 0) == (b > 0) else -quotient)


def uniform(rng, low, high) -> int:
    low, high = to_int(low), to_int(high)
    if low > high:
        raise ArithmeticError("empty range given to random")
    if high - low + 1 > INT64_MAX:
        raise ArithmeticError("random range is too large")
    return low + int(rng.random() * (high - low + 1)) if high - low < 2**52 else rng.randint(low, high)


def fast_uniform(rng, low, high) -> Callable[[dict], int]:
    """random(a, b) with constant bounds, checked once: the hot path of pgbench's scripts."""
    low, high = to_int(low), to_int(high)
    uniform(rng, low, high)  # raises for an empty or too large range
    span, draw = high - low + 1, rng.random
    if span >= 2**52:
        return lambda v: rng.randint(low, high)
    return lambda v: low + int(draw() * span)


def _checked_arguments(low, high, parameter, check) -> tuple[int, int, float]:
    """The bounds as integers and the parameter as a double, checked with pgbench's messages."""
    low, high, parameter = to_int(low), to_int(high), float(parameter)
    if low > high:
        raise ArithmeticError("empty range given to random")
    check(parameter)
    return low, high, parameter


def check_exponential(parameter: float) -> None:
    if parameter <= 0.0:
        raise ArithmeticError(f"exponential parameter must be greater than zero (not {parameter:f})")


def _exponential(rng, low, high, parameter) -> int:
    low, high, parameter = _checked_arguments(low, high, parameter, check_exponential)
    cut = math.exp(-parameter)
    draw = 1.0 - rng.random()  # in (0, 1]
    value = -math.log(cut + (1.0 - cut) * draw) / parameter
    return low + int((high - low + 1) * value)


def check_gaussian(parameter: float) -> None:
    if parameter < MIN_GAUSSIAN_PARAM:
        raise ArithmeticError(
            f"gaussian parameter must be at least {MIN_GAUSSIAN_PARAM:f} (not {parameter:f})"
        )


def _gaussian(rng, low, high, parameter) -> int:
    low, high, parameter = _checked_arguments(low, high, parameter, check_gaussian)
    while True:  # Box-Muller, redrawn until inside [-parameter, parameter)
        stdev = math.sqrt(-2.0 * math.log(1.0 - rng.random())) * math.sin(2.0 * math.pi * rng.random())
        if -parameter <= stdev < parameter:
            break
    return low + int((high - low + 1) * ((stdev + parameter) / (parameter * 2.0)))


def check_zipfian(parameter: float) -> None:
    if not MIN_ZIPFIAN_PARAM <= parameter <= MAX_ZIPFIAN_PARAM:
        raise ArithmeticError(
            f"zipfian parameter must be in range [{MIN_ZIPFIAN_PARAM:.3f}, {MAX_ZIPFIAN_PARAM:.0f}]"
            f" (not {parameter:f})"
        )


def _zipfian(rng, low, high, parameter) -> int:
    """pgbench's computeIterativeZipfian (rejection method of Devroye, p. 550)."""
    low, high, s = _checked_arguments(low, high, parameter, check_zipfian)
    n = high - low + 1
    if n <= 1:
        return low
    b = 2.0 ** (s - 1.0)
    while True:
        u, v = rng.random(), rng.random()
        if u == 0.0:
            continue
        x = math.floor(u ** (-1.0 / (s - 1.0)))
        t = (1.0 + 1.0 / x) ** (s - 1.0)
        if v * x * (t - 1.0) / (b - 1.0) <= t / b and x <= n:
            return low - 1 + int(x)


def _sqrt(value) -> float:
    if value < 0:
        raise ArithmeticError("sqrt of a negative number")
    return math.sqrt(value)


# name -> ((min args, max args), function, needs the client's random generator)
FUNCTIONS: dict[str, tuple[tuple[int, float], Callable, bool]] = {
    "random": ((2, 2), uniform, True),
    "random_gaussian": ((3, 3), _gaussian, True),
    "random_exponential": ((3, 3), _exponential, True),
    "random_zipfian": ((3, 3), _zipfian, True),
    "abs": ((1, 1), abs, False),
    "int": ((1, 1), to_int, False),
    "double": ((1, 1), float, False),
    "sqrt": ((1, 1), _sqrt, False),
    "pi": ((0, 0), lambda: math.pi, False),
    "greatest": ((1, math.inf), max, False),
    "least": ((1, math.inf), min, False),
}
PARAMETER_CHECKS = {
    "random_gaussian": check_gaussian,
    "random_exponential": check_exponential,
    "random_zipfian": check_zipfian,
}
