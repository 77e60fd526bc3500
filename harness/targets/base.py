"""The Target record and the unconstrained coordinate layout shared by every backend.

A target is a NumPyro model plus everything a sampler that works on a flat vector
needs: the order of the unconstrained coordinates ``z`` (the :class:`Layout`), a
flat log density ``log p(z)`` that includes the log-det-Jacobian of the
unconstraining transforms, and the data it is conditioned on.

For a site x with support S and bijection T = biject_to(S) (so x = T(u)),

    log p(z) = sum_sites [ log p_x(T(u)) + log |det dT/du| ] + log p(y | x),

which is exactly ``-numpyro.infer.util.potential_energy`` at the unconstrained
values: :func:`model_log_density` derives it from the model, and targets may
supply a hand-written, faster equivalent that the tests check against it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
from numpyro.distributions import constraints
from numpyro.distributions.transforms import biject_to

from harness import prep
from harness.targets.reference import ANY_N, Reference, lookup


@dataclass(frozen=True)
class Param:
    """One latent site: its name, constrained event shape and support."""

    name: str
    shape: tuple[int, ...]
    support: constraints.Constraint = field(default_factory=lambda: constraints.real)

    @property
    def transform(self):
        """Bijection from unconstrained reals onto the support (NumPyro's ``biject_to``)."""
        return biject_to(self.support)

    @property
    def unconstrained_shape(self) -> tuple[int, ...]:
        return tuple(self.transform.inverse_shape(self.shape))

    @property
    def size(self) -> int:
        return int(np.prod(self.unconstrained_shape, dtype=int))


@dataclass(frozen=True)
class Layout:
    """Order of the unconstrained coordinates: z = concat(flatten(u_site) for site in params).

    All maps work on a leading batch shape: z of shape (..., dim) <-> values of
    shape (..., *shape), so draws shaped (chain, draw, dim) convert in one call.
    """

    params: tuple[Param, ...]

    @property
    def dim(self) -> int:
        return sum(p.size for p in self.params)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def coordinate_names(self) -> list[str]:
        """A readable name per coordinate of z, e.g. ``beta[3]`` (unconstrained)."""
        out = []
        for p in self.params:
            if p.size == 1 and p.unconstrained_shape in ((), (1,)):
                out.append(p.name)
            else:
                out.extend(f"{p.name}[{i}]" for i in range(p.size))
        return out

    def unflatten(self, z):
        """Flat unconstrained (..., dim) -> {name: unconstrained (..., *ushape)}."""
        out, start = {}, 0
        batch = z.shape[:-1]
        for p in self.params:
            out[p.name] = z[..., start : start + p.size].reshape(batch + p.unconstrained_shape)
            start += p.size
        return out

    def flatten(self, values: Mapping[str, Any]):
        """{name: unconstrained (..., *ushape)} -> flat (..., dim)."""
        xp = jnp if any(isinstance(v, jax.Array) for v in values.values()) else np
        parts = []
        for p in self.params:
            v = values[p.name]
            batch = v.shape[: v.ndim - len(p.unconstrained_shape)]
            parts.append(v.reshape(batch + (p.size,)))
        return xp.concatenate(parts, axis=-1)

    @functools.cached_property
    def _maps(self):
        """(constrain, unconstrain) as jitted programs (:mod:`harness.prep`), built once per layout: run
        eagerly, every slice and transform compiled its own small program (0.1-0.3 s a call in a cell)."""

        def constrain(z):
            u = self.unflatten(z)
            return {p.name: p.transform(u[p.name]) for p in self.params}

        def unconstrain(values):
            return self.flatten({p.name: p.transform.inv(values[p.name]) for p in self.params})

        return prep.jit(constrain), prep.jit(unconstrain)

    def constrain(self, z) -> dict:
        """Flat unconstrained (..., dim) -> {name: constrained (..., *shape)} as numpy."""
        return {name: np.asarray(v) for name, v in self._maps[0](jnp.asarray(z)).items()}

    def unconstrain(self, draws: Mapping[str, Any]) -> np.ndarray:
        """{name: constrained (..., *shape)} -> flat unconstrained (..., dim) as numpy."""
        return np.asarray(self._maps[1]({p.name: jnp.asarray(draws[p.name]) for p in self.params}))

    def every_site(self, draws: Mapping[str, Any], z=None) -> dict:
        """``draws`` with every site :meth:`constrain` gives (a model's deterministic sites, Stan's
        transformed parameters, which a sampler's or a VI guide's draws may lack); ``z``: the draws'
        flat unconstrained form, if already at hand. The draws' own values win."""
        return {**self.constrain(self.unconstrain(draws) if z is None else z), **draws}


@dataclass(frozen=True)
class Target:
    """A registered posterior family.

    Attributes:
        name: registry name users type.
        description: one line for ``harness list``.
        source: where the model (and its data) comes from.
        model: NumPyro model called as ``model(**data)``.
        datasets: dataset name -> fixed size N (int), ``ANY_N`` for synthetic data of
            any N, or None for a target with no data (an analytic density).
        make_data: ``(dataset, n, seed) -> dict`` of arrays passed to the model.
        layout: ``data -> Layout`` (shapes may depend on the data).
        log_density: optional hand-written ``data -> (z -> log p(z))``; when None the
            density is derived from the model (:func:`model_log_density`).
        plate: name of the likelihood plate (None: the target cannot be subsampled).
            Convention for a subsampleable target: ``model`` takes a keyword
            ``subsample_size=None`` and declares the plate as
            ``numpyro.plate(plate, N, subsample_size=subsample_size)``, reading its data
            inside it through ``numpyro.subsample(x, event_dim=...)``; with the default
            None it is the full-data model. Subsampling methods (numpyro_hmcecs) bind
            ``subsample_size`` with ``functools.partial``.
        reference: optional ``(dataset, n) -> Reference | None``.
    """

    name: str
    description: str
    source: str
    model: Callable[..., None]
    datasets: Mapping[str, int | str | None]
    make_data: Callable[[str, int | None, int], dict]
    layout: Callable[[dict], Layout]
    log_density: Callable[[dict], Callable] | None = None
    plate: str | None = None
    reference: Callable[[str, int | None], Reference | None] | None = None
    default_dataset: str = field(default="")

    def __post_init__(self):
        if not self.default_dataset:
            object.__setattr__(self, "default_dataset", next(iter(self.datasets)))

    def resolve_size(self, dataset: str, n: int | None) -> int | None:
        """The N a (dataset, n) pair means; raises ValueError naming valid choices."""
        if dataset not in self.datasets:
            raise ValueError(
                f"unknown dataset {dataset!r} for model {self.name!r}; valid: {', '.join(self.datasets)}"
            )
        fixed = self.datasets[dataset]
        if fixed == ANY_N:
            if n is None:
                raise ValueError(f"dataset {dataset!r} of model {self.name!r} needs a size N")
            return n
        if n not in (None, fixed):
            what = "has no data" if fixed is None else f"has fixed size {fixed}"
            raise ValueError(f"dataset {dataset!r} of model {self.name!r} {what}, not N = {n}")
        return fixed


def _holds_no_tracer(obj, depth: int = 0) -> bool:
    """Whether ``obj`` (a support, its fields and their items, a few levels down) holds no tracer."""
    if isinstance(obj, jax.core.Tracer):
        return False
    if depth >= 4:
        return True
    items = obj if isinstance(obj, (list, tuple)) else getattr(obj, "__dict__", {}).values()
    return all(_holds_no_tracer(v, depth + 1) for v in items)


def initial_sites(model: Callable, data: Mapping) -> dict:
    """The sites of ``model(**data)`` in trace order, each continuous latent site at NumPyro's uniform
    initial value (as its MCMC starts; an improper prior cannot be sampled): per site, its ``type``,
    ``is_observed``, ``infer``, ``shape`` and, for a sample site, ``support``.

    Traced abstractly (``jax.eval_shape``), so nothing compiles: run eagerly, every operation of the
    model compiled its own small program, 0.5-1 s for a posteriordb model, most of a small cell's
    data phase. Where the model cannot be traced abstractly, or a latent site's support holds a
    traced value (a support computed from a parameter, or from data through ``jnp``), the model is
    run eagerly as before and the support read at the initial values.
    """
    from numpyro import handlers
    from numpyro.infer.initialization import init_to_uniform

    def trace():
        seeded = handlers.substitute(handlers.seed(model, 0), substitute_fn=init_to_uniform)
        return handlers.trace(seeded).get_trace(**data)

    def sites(tr) -> dict:
        return {name: {"type": s["type"], "is_observed": s.get("is_observed", False), "infer": s.get("infer", {}),
                       "shape": tuple(np.shape(s["value"])),
                       **({"support": s["fn"].support} if s["type"] == "sample" else {})}
                for name, s in tr.items()}

    found: dict = {}
    try:
        jax.eval_shape(lambda: found.update(sites(trace())) or 0)
    except Exception:  # noqa: BLE001 - a model that needs concrete values: traced eagerly below
        found = {}
    latent = [s for s in found.values() if s["type"] == "sample" and not s["is_observed"]]
    if found and all(_holds_no_tracer(s["support"]) for s in latent):
        return found
    return sites(trace())


def model_log_density(model: Callable, data: dict, layout: Layout) -> Callable:
    """Flat unconstrained log density derived from a NumPyro model: -potential_energy."""
    from numpyro.infer.util import potential_energy

    def log_density(z):
        return -potential_energy(model, (), data, layout.unflatten(z))

    return log_density


class Posterior:
    """A target bound to its data: what every method receives.

    Holds the layout, the flat log density ``log_density(z)`` and initial
    positions; draws leave a method as named constrained arrays (chain, draw, ...).
    """

    def __init__(self, target: Target, dataset: str, n: int | None, data_seed: int = 0):
        self.target = target
        self.dataset = dataset
        self.n = target.resolve_size(dataset, n)
        self.data_seed = data_seed
        self.data = target.make_data(dataset, self.n, data_seed)
        self.layout = target.layout(self.data)
        if target.log_density is not None:
            self.log_density = target.log_density(self.data)
        else:
            self.log_density = model_log_density(target.model, self.data, self.layout)

    @property
    def dim(self) -> int:
        return self.layout.dim

    def reference(self) -> Reference | None:
        """Reference moments for these data, or None (see :func:`harness.targets.reference.lookup`)."""
        return lookup(self.target, self.dataset, self.n, self.data_seed)

    def is_model_density(self, source: str) -> bool:
        """Whether the density ``source`` names (:meth:`density_and_data`) is NumPyro's potential of the
        model: ``"model"``, or ``"target"`` on a target with no hand-written density."""
        return source == "model" or self.target.log_density is None

    def density_and_data(self, source: str = "target"):
        """(data -> log density, device data arrays): data as a jit argument, never a closure constant.

        ``source="target"``: the target's hand-written flat density where it has one
        (else the model's); ``"model"``: NumPyro's potential of the model, the program
        NumPyro's kernels evaluate (see ``Method.density``).

        A closed-over array is embedded in the compiled program as a constant (slow
        compiles, 120 MB of HLO at N = 1e6, different fusion); passing it as an
        argument keeps the program the same at every N. The arrays are put on the
        device once, here, so no timed call copies them from the host. Entries that
        are not arrays stay static.
        """
        arrays = {k: v for k, v in self.data.items() if isinstance(v, (np.ndarray, jax.Array))}
        static = {k: v for k, v in self.data.items() if k not in arrays}
        if source not in ("target", "model"):
            raise ValueError(f"unknown density source {source!r}; valid: target, model")
        target, layout, model = self.target, self.layout, self.is_model_density(source)

        def log_density_of(data):
            data = {**static, **data}
            if not model:
                return target.log_density(data)
            return model_log_density(target.model, data, layout)

        return log_density_of, jax.block_until_ready(jax.device_put(arrays))

    def initial_positions(self, key, num_chains: int, radius: float = 2.0):
        """Uniform(-radius, radius) in unconstrained space, like NumPyro's init_to_uniform.

        Every method starts from these positions so the same seed means the same start.
        """
        return jax.random.uniform(key, (num_chains, self.dim), minval=-radius, maxval=radius)
