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
"""

from ._backends import (
    Backend,
    BackendFactory,
    ExecutorBackend,
    available_backends,
    register_backend,
)

__all__ = [
    "Backend",
    "BackendFactory",
    "ExecutorBackend",
    "available_backends",
    "register_backend",
]
