"""Two helpers for the objects a long script makes by the thousand (a 2,000-statement lint builds
about 4,000): frozen dataclass instances without their slow generated __init__, and cached properties
without functools' lock. Both keep the values in the instance's __dict__, as the originals do."""


def frozen_instance(cls, **fields):
    """`cls(**fields)` for a frozen dataclass, without the generated __init__ that sets every field through
    object.__setattr__ (five times slower); fields left out take their class defaults."""
    instance = object.__new__(cls)
    instance.__dict__.update(fields)
    return instance


class lazy:  # noqa: N801  (used like functools.cached_property)
    """functools.cached_property without its per-instance lock (Python 3.11 takes one on every first read);
    the value lands in the instance's __dict__ and shadows this descriptor from then on."""

    def __init__(self, compute):
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.compute(instance)
        return value
