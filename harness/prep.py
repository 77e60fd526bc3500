"""The small programs that prepare a run or read its draws: keys, start points, the maps between
constrained and unconstrained draws, stacked per-chain states.

Run eagerly, each split, draw, slice or transform compiles a program of its own (a key split about
0.14 s on the 2-core machine), outside any timed part of a cell but inside its wall time. Each is
written here as one jitted program instead, compiled at XLA's lowest backend optimisation (:data:`jit`):
the keys' program of a hand-rolled cell compiles in 0.18 s at -O0 against 0.48 s at the default level
and runs in a millisecond either way. The values are the same bits as eagerly (threefry is integer
arithmetic; the tests compare the floats too).
"""

from __future__ import annotations

import functools

import jax

OPTIONS = {"xla_backend_optimization_level": 0}

jit = functools.partial(jax.jit, compiler_options=OPTIONS)
"""``jax.jit`` for the preparing programs: compiled at -O0 (:data:`OPTIONS`)."""
