"""WorkGrinder: batches small sync jobs from many async callers onto leased executors.

The public shell: construction and validation, the lifecycle, the loop and
thread rules, and the stats snapshot. What happens to a job between
``enqueue()`` and its future resolving lives in :mod:`gristmill._engine`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from asyncio import get_running_loop
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast, final, overload

from . import _validate as validate
from ._admission import Overflow
from ._batched import BatchFunction, check_batch_args
from ._bridge import call_in_loop, enqueue_from_thread
from ._clock import Clock, MonotonicClock
from ._engine import Engine
from ._errors import (
    GrinderCrashedError,
    GrinderOverloadedError,
    NotStartedError,
    WrongLoopError,
    WrongTypeError,
)
from ._grinder_settings import GrinderSettings, require_run_timeout_support
from ._inputs import Inputs
from ._job import Job
from ._lifecycle import Lifecycle, State
from ._mapper import MapOptions, Mapper
from ._scheduler_settings import Dispatch, Scheduler, SchedulerSettings
from ._source import LeaseSource, resolve_source
from ._stats import GrinderStats
from ._tracing import tracing_for
from ._work import Work
from .hooks import Hooks

if TYPE_CHECKING:
    from contextvars import ContextVar

    from opentelemetry.trace import TracerProvider

__all__ = ["LeaseSource", "WorkGrinder"]

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741  (a batch function's item type)
R = TypeVar("R")


_UNCHECKED = object()
"""What ``_last_checked`` holds before any callable was checked; never a user's ``fn``."""

_OBSERVABLE = frozenset({State.RUNNING, State.STOPPING, State.BROKEN})
"""States in which the owning loop can still answer ``stats_from_thread``."""

_READ = 4096
"""Items ``enqueue_many`` reads from its iterables at a time."""


def _check_owner(owner: object) -> None:
    if owner is not None and not isinstance(owner, str):
        raise TypeError(f"owner must be a str or None, got {type(owner).__name__}")


def _being_cancelled() -> bool:
    """Whether the task running this is being cancelled (Ctrl-C, a timeout, a failing group)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


@final
class WorkGrinder:
    """Async work batcher backed by leased executors.

    Like a mill that waits for a full hopper, or for the first sack to have
    waited long enough, before it turns: callers drop small sync jobs in, and
    the grinder runs them in batches on executors it leases from a
    :class:`~gristmill.LeasedExecutorManager`. A batch starts when
    ``batch_size_threshold`` jobs are pending or the oldest has waited
    ``max_wait_seconds``. Each batch runs on one lease, as a few chunks; every
    caller gets its own result or exception as soon as its chunk finishes.

    Async methods belong to the event loop that called ``start()``; use
    ``submit_from_thread()`` and ``stats_from_thread()`` from other threads.
    ``async with grinder:`` starts it and stops it on the way out: draining
    after a clean exit, cancelling what is pending after an exception or a
    cancellation (see :meth:`stop`). Start the manager first.

    A job runs in its caller's ``contextvars`` context, as with
    ``asyncio.to_thread``: on the thread backend each job runs in a copy of
    the context its caller had when it queued the job (what the job sets stays
    in that copy); process-like backends carry the variables named in
    ``propagate_context``.

    Args:
        executor_manager: Where batches lease their executors: a
            :class:`~gristmill.LeasedExecutorManager`, or any object with an
            async ``acquire()`` (see :class:`LeaseSource` for the traits the
            grinder reads when they are there, and their fallbacks).
        max_wait_seconds: Longest time the oldest pending job waits for a batch.
        batch_size_threshold: Pending jobs that start a batch at once.
        lease_seconds: Lease length asked for each batch.
        owner_prefix: Prefix of each batch's lease owner label.
        logger: Logger for lifecycle events; defaults to ``gristmill.grinder``.
        max_concurrent_batches: Batches that may run at once (each holds a
            lease). Defaults to the manager's ``max_pools`` (1 for a manager
            without one).
        max_batch_size: Largest batch cut from a backlog. Defaults to
            ``max(batch_size_threshold, 4096)``.
        clock: Time source; defaults to the manager's clock.
        max_pending: Most jobs the queue may hold. ``None`` (the default, as
            in the spec) means unbounded.
        overflow: What ``enqueue``/``submit``/``submit_from_thread`` do when
            the queue is full: ``"wait"`` for room (backpressure, first come
            first served) or ``"reject"`` with :class:`GrinderOverloadedError`.
        deadline_seconds: Default deadline of every item: one not dispatched
            this many seconds after it was queued fails with ``TimeoutError``
            without running. ``None``: no deadline. Per item: :class:`Work`.
            An item queued again after its pool died was dispatched in time,
            so the deadline no longer applies to it.
        run_timeout_seconds: Default hard run-time limit of every item
            (process backend only). An item that runs longer fails with
            ``TimeoutError``; its pool's workers are killed, the items
            running beside it fail with ``TimeoutError`` too, the batch's
            other items are queued again, and the pool is replaced.
        max_retries: How many times an item is run again after its worker
            process died (or its lease was revoked) while it ran. After that
            it fails with :class:`WorkerCrashedError` (or
            :class:`LeaseExpiredError`). Items of the batch that were not
            running are queued again without using up a retry.
        hooks: Observer told about every batch and item.
        propagate_context: Context variables whose values travel with each
            item to process-like backends (process, interpreter, loky,
            Dask), to be set around its call in the worker. Each must be a
            module-level global, so the worker can import it. A value that
            will not pickle fails its item alone with
            :class:`UnpicklableError`. On the thread backend every job
            already runs in a copy of its caller's whole context, so this
            changes nothing there.
        tracing: OpenTelemetry spans (``pip install "gristmill[otel]"``):
            ``True`` for the global tracer provider, or a ``TracerProvider``
            of your own. Each item gets a span, a child of its caller's
            span, and each batch a span linked to its items' callers; the
            trace context reaches process workers with the item. ``False``
            (the default) costs nothing per item. ``True`` without
            OpenTelemetry installed logs a warning and records nothing.
        scheduler: The order items leave the queue in. ``"fifo"`` (the
            default, the spec's): arrival order. ``"fair"``: by priority
            level (:class:`Work` ``priority``, higher first), then the
            owners with items pending at that level share each batch by
            weighted deficit round-robin, then, within one owner, nearest
            deadline first and first come first served; a batch also starts
            early when waiting ``max_wait_seconds`` would make an item miss
            its deadline. See the scheduling guide.
        owner_weights: ``"fair"`` only: a mapping of owner (``str``, or
            ``None`` for items without one) to a positive weight; an owner's
            share of each batch is proportional to its weight (default 1).
            Read once, here.
        max_pending_per_owner: Most items one owner may have pending; an
            owner at its quota waits for room or is refused with
            :class:`GrinderOverloadedError` naming it, as ``overflow``
            says, while other owners are still admitted. Either scheduler.
        priority_aging_seconds: ``"fair"`` only: an item's effective
            priority grows by one for every this many seconds it waits, so
            low priorities never starve. ``None`` (the default): priority is
            strict.
        dispatch: ``"wait"`` (the default, the spec's): a batch starts at
            ``batch_size_threshold`` items or after ``max_wait_seconds``.
            ``"eager"``: pending items start at once whenever a batch slot
            (``max_concurrent_batches``) is free; while every slot is busy,
            items gather, so batches still grow under load. Both triggers
            stay upper bounds.

    Raises:
        ValueError: a number is zero, negative, NaN, infinite, a bool, or
            fractional where a count is needed; an unknown ``overflow``,
            ``scheduler`` or ``dispatch``; a run timeout on a backend whose
            jobs cannot be stopped; a ``propagate_context`` variable that is
            not a module-level global; a weight that is not a positive finite
            number, or ``owner_weights`` that cannot be read;
            ``owner_weights`` or ``priority_aging_seconds`` with the
            ``"fifo"`` scheduler.
        WrongTypeError: a parameter has the wrong type (a ``TypeError`` and
            a ``ValueError``), or ``executor_manager`` has no ``acquire()``.
    """

    def __init__(
        self,
        *,
        executor_manager: LeaseSource,
        max_wait_seconds: float = 10.0,
        batch_size_threshold: int = 20,
        lease_seconds: float = 60.0,
        owner_prefix: str = "work-grinder",
        logger: logging.Logger | None = None,
        max_concurrent_batches: int | None = None,
        max_batch_size: int | None = None,
        clock: Clock | None = None,
        max_pending: int | None = None,
        overflow: Overflow = "wait",
        deadline_seconds: float | None = None,
        run_timeout_seconds: float | None = None,
        max_retries: int = 1,
        hooks: Hooks | None = None,
        propagate_context: Sequence[ContextVar[Any]] = (),
        tracing: bool | TracerProvider = False,
        scheduler: Scheduler = "fifo",
        owner_weights: Mapping[str, float] | Mapping[str | None, float] | None = None,
        max_pending_per_owner: int | None = None,
        priority_aging_seconds: float | None = None,
        dispatch: Dispatch = "wait",
    ) -> None:
        source = resolve_source(executor_manager)
        settings = GrinderSettings.build(
            max_wait_seconds=max_wait_seconds,
            batch_size_threshold=batch_size_threshold,
            lease_seconds=lease_seconds,
            owner_prefix=owner_prefix,
            max_concurrent_batches=max_concurrent_batches,
            max_batch_size=max_batch_size,
            max_pending=max_pending,
            overflow=overflow,
            deadline_seconds=deadline_seconds,
            run_timeout_seconds=run_timeout_seconds,
            max_retries=max_retries,
            manager=source,
            propagate_context=propagate_context,
            scheduling=SchedulerSettings.build(
                scheduler=scheduler,
                dispatch=dispatch,
                owner_weights=owner_weights,
                max_pending_per_owner=max_pending_per_owner,
                priority_aging_seconds=priority_aging_seconds,
            ),
        )
        if hooks is not None and not isinstance(hooks, Hooks):
            raise WrongTypeError(f"hooks must be a gristmill.Hooks, got {type(hooks).__name__}")
        self._manager = source
        self._clock: Clock = clock or source.clock or MonotonicClock()
        logger = logger or logging.getLogger("gristmill.grinder")
        self._engine = Engine(
            settings,
            source,
            self._clock,
            logger,
            hooks,
            self._on_crash,
            self._on_orphaned,
            tracing_for(tracing, logger),
        )
        self._life = Lifecycle(
            "WorkGrinder", "from other threads use submit_from_thread()/stats_from_thread()"
        )
        self._crash: BaseException | None = None
        self._last_checked: object = _UNCHECKED
        self._last_batched = False

    async def start(self) -> None:
        """Start the background task and bind the grinder to the running loop.

        Idempotent on the owning loop; a stopped grinder can be started again.

        Raises:
            WrongLoopError: already running on another loop.
            NotStartedError: a ``stop()`` is still in progress, or the manager
                has not been started (or was stopped).
            GrinderCrashedError: the grinder crashed earlier.
        """
        life = self._life
        if life.state is State.RUNNING:
            life.require_loop("start")
            return
        if life.state is State.STOPPING:
            raise NotStartedError("WorkGrinder is stopping; await stop() before starting again")
        if life.state is State.BROKEN:
            raise self._crashed_error()
        self._require_manager_running()
        loop = life.bind()
        life.state = State.RUNNING
        self._engine.start(loop)

    def _require_manager_running(self) -> None:
        """Refuse a manager that says it is not running; a duck-typed one may not say."""
        if not self._manager.running:
            raise NotStartedError(
                "WorkGrinder.start() needs a running manager: await manager.start() before "
                "grinder.start(), or enter `async with manager:` before `async with grinder:`"
            )

    async def stop(self, *, cancel_pending: bool = False, timeout: float | None = None) -> None:
        """Stop the grinder. Owning loop only; safe to call twice or concurrently.

        By default every pending job still runs (they are flushed as batches
        at once, without waiting for ``max_wait_seconds``) and ``stop`` returns
        when all have settled. With ``cancel_pending=True`` pending jobs are
        cancelled, and so is the runner waiting for a lease and every batch
        waiting for in-flight work; their callers see ``CancelledError``.
        ``timeout`` bounds the drain: once it runs out (on the grinder's
        clock), whatever has not settled is cancelled as with
        ``cancel_pending=True``, and ``stop`` returns. Callers still waiting
        for room in a full queue get :class:`NotStartedError`.

        A cancellation cuts the stop short. If the task awaiting ``stop()`` is
        cancelled (which is what Ctrl-C does under ``asyncio.run``), or
        ``stop()`` is called by a task that is already being cancelled (from
        a ``finally:`` block, say), pending jobs are cancelled as with
        ``cancel_pending=True``, and every lease a batch still holds is
        retired: process workers are killed and the jobs they were running
        are abandoned (their callers see ``CancelledError``). ``stop()`` then
        returns within moments; if it was the one cancelled, it re-raises
        ``CancelledError`` once the grinder has stopped.

        Raises:
            WrongLoopError: called from a loop other than the owning one.
            ValueError: ``timeout`` is negative, NaN or infinite.
            CancelledError: the task awaiting ``stop()`` was cancelled; the
                grinder has stopped all the same.
        """
        limit = validate.optional_timeout("timeout", timeout)
        life = self._life
        if life.state in (State.CREATED, State.STOPPED):
            return
        life.require_loop("stop")
        if life.state is State.RUNNING:
            life.state = State.STOPPING
        engine = self._engine
        engine.admission.fail_waiters(
            NotStartedError("WorkGrinder stopped while this call waited for room in its queue")
        )
        timer = None
        if _being_cancelled():
            await self._cut_short()
        elif cancel_pending:
            engine.cancel_everything()
        else:
            engine.flush()
            if limit is not None:
                timer = self._clock.call_at(self._clock.time() + limit, engine.cancel_everything)
        try:
            await self._wait_stopped()
        finally:
            if timer is not None:
                timer.cancel()

    async def _wait_stopped(self) -> None:
        """Wait for the engine to finish, then mark the grinder stopped.

        A cancellation meanwhile cuts the stop short; the grinder still ends
        stopped before the ``CancelledError`` goes on.
        """
        try:
            await self._engine.wait_finished()
        except asyncio.CancelledError:
            await self._cut_short()
            await self._engine.wait_finished()  # at once: nothing waits for work any more
            self._mark_stopped()
            raise
        self._mark_stopped()

    async def _cut_short(self) -> None:
        """Cancel pending jobs and retire the leases still out, killing their process workers."""
        self._engine.cancel_everything()
        await self._manager.retire_all()

    def _mark_stopped(self) -> None:
        self._last_checked = _UNCHECKED
        if self._life.state is State.STOPPING:
            self._life.state = State.STOPPED

    async def __aenter__(self) -> WorkGrinder:
        """Start the grinder (see :meth:`start`) and return it."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the grinder: drain after a clean exit, else cancel what is pending.

        After an exception the exit is ``stop(cancel_pending=True)``; after a
        cancellation the stop is also cut short, as :meth:`stop` describes.
        """
        await self.stop(cancel_pending=exc_type is not None)

    def __repr__(self) -> str:
        stats = self._snapshot()
        room = stats["waiting_for_room"]
        extra = f" waiting_for_room={room}" if room else ""
        return (
            f"<WorkGrinder {stats['state']} pending={stats['pending']} "
            f"in_flight={stats['in_flight']} batches={stats['batches']}{extra}>"
        )

    @overload
    async def submit(
        self, fn: BatchFunction[I, R], item: I, /, *, owner: str | None = None
    ) -> R: ...

    @overload
    async def submit(
        self, fn: Callable[..., T], /, *args: Any, owner: str | None = None, **kwargs: Any
    ) -> T: ...

    async def submit(
        self, fn: Callable[..., Any], /, *args: Any, owner: str | None = None, **kwargs: Any
    ) -> Any:
        """Queue ``fn(*args, **kwargs)`` and wait for its result. Owning loop only.

        ``fn`` is positional-only, so a keyword argument named ``fn`` reaches
        the callable. A :class:`BatchFunction` takes exactly one argument, the
        item, and the result is that item's element of its call's results.
        Cancelling the await removes a job that is still pending. With a full
        queue (``max_pending``) it first waits for room, or is rejected, as
        ``overflow`` says.

        Raises:
            NotStartedError: the grinder is not running or is stopping.
            WrongLoopError: called from a loop other than the owning one.
            GrinderCrashedError: the grinder's background task failed.
            GrinderOverloadedError: the queue, or the owner's quota
                (``max_pending_per_owner``), is full and ``overflow="reject"``.
            TypeError: ``fn`` is not callable, or is an async function; a batch
                function was given anything but one positional item; or the
                grinder keeps per-owner books and ``owner`` is neither a
                ``str`` nor ``None``.
            TimeoutError: the item's deadline or run timeout passed.
            WorkerCrashedError: its worker process kept dying under it.
            Exception: whatever ``fn`` raised.
        """
        future = self._put_at_once(fn, args, kwargs, owner)
        if future is None:
            future = await self._enqueue("submit", fn, args, kwargs, owner)
        return await future

    @overload
    async def enqueue(
        self, fn: BatchFunction[I, R], item: I, /, *, owner: str | None = None
    ) -> asyncio.Future[R]: ...

    @overload
    async def enqueue(
        self, fn: Callable[..., T], /, *args: Any, owner: str | None = None, **kwargs: Any
    ) -> asyncio.Future[T]: ...

    async def enqueue(
        self, fn: Callable[..., Any], /, *args: Any, owner: str | None = None, **kwargs: Any
    ) -> asyncio.Future[Any]:
        """Queue ``fn(*args, **kwargs)`` and return its future at once. Owning loop only.

        Cancelling the returned future takes a pending job out of the queue
        immediately; a job already running finishes and its result is dropped.
        With a full queue (``max_pending``) it first waits for room, or is
        rejected, as ``overflow`` says.

        Raises:
            NotStartedError: the grinder is not running or is stopping.
            WrongLoopError: called from a loop other than the owning one.
            GrinderCrashedError: the grinder's background task failed.
            GrinderOverloadedError: the queue, or the owner's quota
                (``max_pending_per_owner``), is full and ``overflow="reject"``.
            TypeError: ``fn`` is not callable, or is an async function; a batch
                function was given anything but one positional item; or the
                grinder keeps per-owner books and ``owner`` is neither a
                ``str`` nor ``None``.
        """
        future = self._put_at_once(fn, args, kwargs, owner)
        if future is None:
            future = await self._enqueue("enqueue", fn, args, kwargs, owner)
        return future

    async def enqueue_many(
        self,
        fn: Callable[..., T],
        /,
        *iterables: Iterable[Any] | AsyncIterable[Any],
        owner: str | None = None,
    ) -> list[asyncio.Future[T]]:
        """Queue ``fn`` once per item of ``iterables`` (zipped as ``map`` does); return the futures.

        Like a loop of :meth:`enqueue` at a fraction of its cost per item: the
        jobs are created in one pass, with one wake-up of the grinder. The
        whole group is admitted as a unit: with ``max_pending`` set it waits
        until there is room for every item, or is refused as a whole, as
        ``overflow`` says; no item is queued before all fit. The iterables
        (sync or async) are read to the end first. Owning loop only.

        Raises:
            NotStartedError: the grinder is not running or is stopping.
            WrongLoopError: called from a loop other than the owning one.
            GrinderCrashedError: the grinder's background task failed.
            GrinderOverloadedError: there is no room for the group and ``overflow="reject"``.
            ValueError: the group is larger than ``max_pending``, so it could never fit.
            TypeError: ``fn`` is not callable or is an async function; no iterable
                is given, or an argument is not iterable; ``owner`` is not a str.
            Exception: whatever an iterable raised while it was read.
        """
        self._check_callable(fn, (None,) * len(iterables), None)  # a batch function takes one
        inputs = Inputs(iterables)
        _check_owner(owner)
        calls: list[Any] = []
        while not inputs.exhausted:
            calls += await inputs.aread(_READ) if inputs.is_async else inputs.read(_READ)
        if inputs.error is not None:
            raise inputs.error
        if not inputs.spread:
            calls = [(item,) for item in calls]
        if not calls:
            self._require_accepting("enqueue_many")
            return []
        return await self._put_group("enqueue_many", fn, calls, owner)  # jobs are futures

    @overload
    def map(
        self,
        fn: Callable[..., T],
        /,
        *iterables: Iterable[Any] | AsyncIterable[Any],
        ordered: bool = True,
        max_in_flight: int | None = None,
        owner: str | None = None,
        return_exceptions: Literal[False] = False,
    ) -> AsyncGenerator[T, None]: ...

    @overload
    def map(
        self,
        fn: Callable[..., T],
        /,
        *iterables: Iterable[Any] | AsyncIterable[Any],
        ordered: bool = True,
        max_in_flight: int | None = None,
        owner: str | None = None,
        return_exceptions: Literal[True],
    ) -> AsyncGenerator[T | BaseException, None]: ...

    @overload
    def map(
        self,
        fn: Callable[..., T],
        /,
        *iterables: Iterable[Any] | AsyncIterable[Any],
        ordered: bool = True,
        max_in_flight: int | None = None,
        owner: str | None = None,
        return_exceptions: bool,
    ) -> AsyncGenerator[T | BaseException, None]: ...

    def map(
        self,
        fn: Callable[..., T],
        /,
        *iterables: Iterable[Any] | AsyncIterable[Any],
        ordered: bool = True,
        max_in_flight: int | None = None,
        owner: str | None = None,
        return_exceptions: bool = False,
    ) -> AsyncGenerator[Any, None]:
        """Run ``fn`` over the items of ``iterables``; iterate over the results asynchronously.

        ::

            async for thumbnail in grinder.map(resize, paths):
                ...

        The iterables (sync or async) are zipped like the builtin ``map``
        (``fn(a, b)`` for ``map(fn, as_, bs)``; the shortest ends it) and read
        lazily, a chunk at a time. The items travel in chunks, one job per
        chunk, and no future is created per item; chunks grow from one item
        to about 10 ms of work each. At most ``max_in_flight`` items are read
        and not yet yielded; the default, 4 chunks of up to 1024 items per
        worker behind the grinder, keeps every worker busy.

        ``ordered=True`` yields results in input order, ``False`` as chunks
        finish (which does not say which input a result belongs to: return
        it with the result if you need it). An item's exception is raised at
        its place, which ends the iteration, unless ``return_exceptions=True``
        yields it instead. A whole chunk can fail at once (its worker process
        died past ``max_retries``, it overran ``run_timeout_seconds``, its
        results would not unpickle, a deadline passed before it ran): each of
        its items then has that exception. An item that will not pickle on a
        process backend fails alone with :class:`UnpicklableError`. An
        iterable that raises ends the map with that exception, after the
        results of the items it gave before.

        Leaving the iteration early cancels what it queued: a ``break`` followed
        by ``aclose()`` (or ``async with contextlib.aclosing(...)``), an
        exception, or a cancellation. A chunk still queued leaves the queue at
        once; a running one finishes and its results are dropped. A map
        dropped without ``aclose()`` is closed by the loop soon after.

        ``stats()`` counts a map's items, not its chunks (``pending`` and
        ``max_pending`` count queued jobs, a chunk being one). With
        ``max_pending``, each chunk waits for room (or is refused) like one
        ``enqueue``. Iterate on the owning loop only; sync iterables are read
        on it, so a slow source belongs in an async iterable.

        Raises:
            TypeError: ``fn`` is not callable or is async; no iterable, or an
                argument that is not iterable; ``ordered``/``return_exceptions``
                not a bool; ``owner`` not a str. Raised at the call.
            ValueError: ``max_in_flight`` is not a whole number > 0. At the call.
            NotStartedError: the grinder is not running (while iterating).
            UnpicklableError: ``fn`` cannot be pickled for a process backend
                (at the first iteration).
            GrinderOverloadedError: a chunk found the queue full and ``overflow="reject"``.
            Exception: an item's exception (unless ``return_exceptions``), or an iterable's.
        """
        return self._mapper(
            fn,
            iterables,
            ordered=ordered,
            max_in_flight=max_in_flight,
            owner=owner,
            return_exceptions=return_exceptions,
        ).results()

    def _mapper(
        self,
        fn: Callable[..., Any],
        iterables: tuple[Iterable[Any] | AsyncIterable[Any], ...],
        *,
        ordered: bool,
        max_in_flight: int | None,
        owner: str | None,
        return_exceptions: bool,
    ) -> Mapper:
        """Check a map's arguments and build the :class:`Mapper` that runs it."""
        validate.sync_callable(fn)
        if type(fn) is BatchFunction:  # one iterable: each of its items is one item
            check_batch_args(fn, (None,) * len(iterables), None)
        inputs = Inputs(iterables)
        _check_owner(owner)
        engine, manager = self._engine, self._manager
        options = MapOptions.build(
            ordered=ordered,
            max_in_flight=max_in_flight,
            return_exceptions=return_exceptions,
            owner=owner,
            lanes=engine.settings.max_concurrent * max(1, manager.workers_per_pool),
            dumps=manager.payload_dumps if manager.payloads_cross_process else None,
            timed=engine.settings.run_timeout is not None,
        )
        return Mapper(fn, inputs, self._put_chunks, options)

    async def _put_chunks(
        self,
        fn: Callable[..., Any],
        calls: Sequence[tuple[Any, ...]],
        owner: str | None,
        *,
        weights: Sequence[int],
        due: bool,
    ) -> list[Job]:
        return await self._put_group("map", fn, calls, owner, weights=weights, due=due)

    async def _put_group(
        self,
        what: str,
        fn: Callable[..., Any],
        calls: Sequence[tuple[Any, ...]],
        owner: str | None,
        *,
        weights: Sequence[int] | None = None,
        due: bool = False,
    ) -> list[Any]:
        """Queue a group of jobs from the owning loop: checks, admission as a unit, put."""
        if self._life.state is not State.RUNNING or get_running_loop() is not self._life.loop:
            self._require_accepting(what)
        engine = self._engine
        count = len(calls)
        if not engine.admission.has_room(count):
            try:
                await engine.admission.wait_for_room(count)
            except GrinderOverloadedError:
                engine.tally.reject(count if weights is None else sum(weights))
                raise
            self._require_accepting(what)  # it may have begun stopping meanwhile
        return engine.put_many(fn, calls, owner, weights=weights, due=due)

    async def submit_work(self, work: Work[T]) -> T:
        """Like :meth:`submit`, for a :class:`Work` with its per-item options."""
        future: asyncio.Future[T] = await self.enqueue_work(work)
        return await future

    async def enqueue_work(self, work: Work[T]) -> asyncio.Future[T]:
        """Like :meth:`enqueue`, for a :class:`Work` with its per-item options.

        Raises:
            TypeError: ``work`` is not a :class:`Work`.
            ValueError: it has a run timeout on a backend that cannot stop jobs,
                or a priority other than 0 and the scheduler is ``"fifo"``.
        """
        return await self._enqueue("enqueue_work", *self._unpack(work))

    @overload
    def submit_from_thread(
        self, fn: BatchFunction[I, R], item: I, /, *, owner: str | None = None
    ) -> concurrent.futures.Future[R]: ...

    @overload
    def submit_from_thread(
        self, fn: Callable[..., T], /, *args: Any, owner: str | None = None, **kwargs: Any
    ) -> concurrent.futures.Future[T]: ...

    def submit_from_thread(
        self, fn: Callable[..., Any], /, *args: Any, owner: str | None = None, **kwargs: Any
    ) -> concurrent.futures.Future[Any]:
        """Queue a job from another OS thread; returns a thread-safe future.

        The job runs in a copy of the calling thread's context. Cancelling
        the returned future cancels the job if it is still pending.
        A full queue (``max_pending``) or a full owner's quota
        (``max_pending_per_owner``) is handled as ``overflow`` says: the job
        waits on the loop for room (the call itself never blocks), or the
        future fails with :class:`GrinderOverloadedError`. It fails with
        ``TypeError`` when the grinder keeps per-owner books and ``owner`` is
        neither a ``str`` nor ``None``.

        Raises:
            NotStartedError: the grinder is not running or is stopping.
            WrongLoopError: called on the owning loop's thread (use ``enqueue``).
            GrinderCrashedError: the grinder's background task failed.
            TypeError: ``fn`` is not callable, or is an async function.
        """
        return self._enqueue_from_thread(fn, args, kwargs, owner, None, None, 0)

    def submit_work_from_thread(self, work: Work[T]) -> concurrent.futures.Future[T]:
        """Like :meth:`submit_from_thread`, for a :class:`Work` with its per-item options."""
        return self._enqueue_from_thread(*self._unpack(work))

    def _put_at_once(
        self,
        fn: Callable[..., T],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        owner: str | None,
    ) -> asyncio.Future[T] | None:
        """The hot path: queue the job now, or return None if it needs the checks of ``_enqueue``.

        Taken when the grinder runs on this loop and nothing bounds its queue
        (no ``max_pending``, no per-owner quota), so there is nothing to wait
        for and nothing to explain.
        """
        life = self._life
        if (
            life.state is not State.RUNNING
            or get_running_loop() is not life.loop
            or self._engine.admission.bounded
        ):
            return None
        self._check_callable(fn, args, kwargs)
        job: asyncio.Future[T] = self._engine.put(fn, args, kwargs, owner)
        return job

    async def _enqueue(
        self,
        what: str,
        fn: Callable[..., T],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        owner: str | None,
        deadline: float | None = None,
        run_timeout: float | None = None,
        priority: int = 0,
    ) -> asyncio.Future[T]:
        """The one way into the queue from the owning loop: checks, admission, put."""
        if self._life.state is not State.RUNNING or get_running_loop() is not self._life.loop:
            self._require_accepting(what)
        self._check_callable(fn, args, kwargs)
        engine = self._engine
        if not engine.admission.has_room(owner=owner):
            try:
                await engine.admission.wait_for_room(owner=owner)
            except GrinderOverloadedError:
                engine.tally.reject()
                raise
            self._require_accepting(what)  # it may have begun stopping meanwhile
        job: asyncio.Future[T] = engine.put(
            fn, args, kwargs, owner, deadline, run_timeout, priority
        )
        return job

    def _enqueue_from_thread(
        self,
        fn: Callable[..., T],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        owner: str | None,
        deadline: float | None,
        run_timeout: float | None,
        priority: int,
    ) -> concurrent.futures.Future[T]:
        loop = self._require_foreign_thread("submit_from_thread")
        validate.sync_callable(fn)  # here, not via the cache: this is another thread
        batch_function = type(fn) is BatchFunction
        if batch_function:
            check_batch_args(cast("BatchFunction[Any, Any]", fn), args, kwargs)
        # No context is captured here: the hop onto the loop (call_soon_threadsafe)
        # runs put_now, and any task it starts, in a copy of this thread's context,
        # which Engine.put copies into the job.

        def put_now() -> asyncio.Future[T] | None:
            self._require_accepting_state()
            if batch_function:
                self._engine.grouped = True
            if not self._engine.admission.has_room(owner=owner):
                return None
            job: asyncio.Future[T] = self._engine.put(
                fn, args, kwargs, owner, deadline, run_timeout, priority
            )
            return job

        async def put_later() -> asyncio.Future[T]:  # wait for room (or be refused) on the loop
            return await self._enqueue(
                "submit_from_thread", fn, args, kwargs, owner, deadline, run_timeout, priority
            )

        return enqueue_from_thread(loop, "WorkGrinder", put_now, put_later)

    def _check_callable(self, fn: object, args: tuple[Any, ...], kwargs: object) -> None:
        """Check a submission (owning loop); the callable's own check is cached for the last one.

        A batch function's item is checked every time: it must come alone.
        """
        if fn is not self._last_checked:
            validate.sync_callable(fn)
            self._last_checked = fn
            self._last_batched = type(fn) is BatchFunction
            if self._last_batched:
                self._engine.grouped = True
        if self._last_batched:
            check_batch_args(cast("BatchFunction[Any, Any]", fn), args, kwargs)

    def _unpack(
        self, work: Work[T]
    ) -> tuple[
        Callable[..., T],
        tuple[Any, ...],
        dict[str, Any],
        str | None,
        float | None,
        float | None,
        int,
    ]:
        """Check ``work`` and return its call and options, in ``_enqueue``'s order."""
        if not isinstance(work, Work):
            raise TypeError(f"expected a gristmill.Work, got {type(work).__name__}")
        if work.run_timeout_seconds is not None:
            require_run_timeout_support(self._manager)
        if work.priority and not self._engine.settings.scheduling.fair:
            raise ValueError(
                f"Work.priority={work.priority} needs WorkGrinder(scheduler='fair'); the "
                "'fifo' scheduler runs items in arrival order"
            )
        return (
            work.fn,
            work.args,
            dict(work.kwargs),
            work.owner,
            work.deadline_seconds,
            work.run_timeout_seconds,
            work.priority,
        )

    def stats(self) -> GrinderStats:
        """Return a diagnostic snapshot.

        Safe from anywhere before start and after stop; while running, call it
        on the owning loop's thread.

        Raises:
            WrongLoopError: called from another thread while the grinder runs.
        """
        if self._life.state in (State.RUNNING, State.STOPPING) and not self._life.on_loop_thread():
            raise WrongLoopError(
                "WorkGrinder.stats() must be called on the owning loop's thread while the "
                "grinder runs; use stats_from_thread() from other threads"
            )
        return self._snapshot()

    async def astats(self) -> GrinderStats:
        """Return a diagnostic snapshot from the owning event loop.

        Raises:
            WrongLoopError: called from a loop other than the owning one.
        """
        if self._life.loop is not None and self._life.state is not State.STOPPED:
            self._life.require_loop("astats")
        return self._snapshot()

    def stats_from_thread(self, timeout: float | None = None) -> GrinderStats:
        """Return a diagnostic snapshot from another OS thread.

        Raises:
            NotStartedError: the grinder is not running.
            WrongLoopError: called on the owning loop's thread (use ``stats``).
            TimeoutError: the loop did not answer within ``timeout`` seconds.
        """
        limit = validate.optional_timeout("timeout", timeout)
        loop = self._require_foreign_thread("stats_from_thread", accept_stopping=True)
        return call_in_loop(loop, "WorkGrinder", self._snapshot).result(limit)

    def _snapshot(self) -> GrinderStats:
        state = self._life.state
        return self._engine.snapshot(
            state=state.value,
            started=state in (State.RUNNING, State.STOPPING),
            stopping=state is State.STOPPING,
        )

    def _require_accepting_state(self) -> asyncio.AbstractEventLoop:
        life = self._life
        if life.loop is not None and life.loop.is_closed() and life.state is not State.BROKEN:
            raise NotStartedError(
                "the event loop that ran this WorkGrinder is closed and it was never stopped; "
                "create and start a new grinder on a running loop"
            )
        if life.state is State.RUNNING and life.loop is not None:
            return life.loop
        if life.state is State.BROKEN:
            raise self._crashed_error()
        if life.state is State.STOPPING:
            raise NotStartedError("WorkGrinder is stopping; it accepts no new work")
        raise NotStartedError("WorkGrinder is not started; await grinder.start() first")

    def _require_accepting(self, what: str) -> asyncio.AbstractEventLoop:
        self._require_accepting_state()
        return self._life.require_loop(what)

    def _require_foreign_thread(
        self, what: str, *, accept_stopping: bool = False
    ) -> asyncio.AbstractEventLoop:
        life = self._life
        if accept_stopping and life.state in _OBSERVABLE and life.loop is not None:
            loop = life.loop
        else:
            loop = self._require_accepting_state()
        life.require_foreign_thread(what)
        return loop

    def _crashed_error(self) -> GrinderCrashedError:
        error = GrinderCrashedError(
            f"WorkGrinder crashed: {self._crash!r}; stop() it and create a new grinder"
        )
        error.__cause__ = self._crash
        return error

    def _on_crash(self, cause: BaseException) -> BaseException:
        """The engine or a batch failed unexpectedly: break, and hand callers the error."""
        self._crash = cause
        self._life.state = State.BROKEN
        return self._crashed_error()

    def _on_orphaned(self) -> None:
        """The loop cancelled the engine without ``stop()``: it is shutting down."""
        self._life.state = State.STOPPED
