"""Helpers for the objects a long script makes by the thousand (a 2,000-statement lint builds about
4,000, and decodes about as many dicts from parse trees and squawk's report): frozen dataclass instances
without their slow generated __init__, cached properties without functools' lock (both keep the values in
the instance's __dict__, as the originals do), and a pause of the cycle collector while they are built."""

import functools
import gc


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


def without_gc_pauses(function):
    """Run `function` with the cycle collector off, back on afterwards if it was on.

    The collector runs after every 700 new container objects, whether or not they can form cycles, and
    each run walks the young objects (a full run every object in the process): about a sixth of a long
    lint's time. What lint builds holds no cycles, so reference counting frees it all the same; anything
    else is collected by the next run after this. (Mercurial's util.nogc does the same, for the same reason.)
    """

    @functools.wraps(function)
    def run(*args, **kwargs):
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()

    return run
