"""Time the steps of a benchmark's child process.

The benchmarks measure in fresh child processes (``python -c CODE``); a child
that reports where its time goes starts with :data:`STEP_TIMER`, then wraps the
functions it wants timed where the code under test looks them up::

    setattr(module, name, timed(name, getattr(module, name)))

and prints ``steps`` (name -> seconds, summed over the calls) with its result.
"""

#: Child-process code defining ``steps`` and ``timed(name, function)``.
STEP_TIMER = r"""
import time
steps = {}
def timed(name, function):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            steps[name] = steps.get(name, 0.0) + time.perf_counter() - start
    return wrapper
"""
