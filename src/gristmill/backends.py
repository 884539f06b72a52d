"""Pluggable executor backends: the protocol, and the registry of names.

A backend tells a :class:`~gristmill.LeasedExecutorManager` how to build one
pool of workers, whether the work it is given must be picklable, and whether
its workers can be killed. The built-in backends (``thread``, ``process``,
``interpreter``, ``loky``) implement the same :class:`Backend` protocol and
are registered through the same :func:`register_backend`::

    from gristmill.backends import register_backend

    register_backend("my-pool", MyBackend)          # a zero-argument factory
    manager = LeasedExecutorManager(backend="my-pool", max_pools=2)

Every manager gets its own instance (the factory is called once per manager),
or uses the instance passed as ``backend=`` directly. See ``docs/backends.md``
for a complete example.

leasepool's helpers live here too, with the same names and behaviour, for
code that builds a single executor of a built-in kind without a manager:
:func:`normalize_backend`, :func:`resolve_executor_cls` and
:func:`build_executor`.
"""

from ._backends import (
    Backend,
    BackendFactory,
    ExecutorBackend,
    available_backends,
    build_executor,
    normalize_backend,
    register_backend,
    resolve_executor_cls,
)

__all__ = [
    "Backend",
    "BackendFactory",
    "ExecutorBackend",
    "available_backends",
    "build_executor",
    "normalize_backend",
    "register_backend",
    "resolve_executor_cls",
]
