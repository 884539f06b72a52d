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
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, final

from . import _validate as validate
from ._admission import Overflow
from ._bridge import call_in_loop, enqueue_from_thread
from ._clock import Clock, MonotonicClock
from ._engine import Engine
from ._errors import GrinderCrashedError, GrinderOverloadedError, NotStartedError, WrongLoopError
from ._grinder_settings import GrinderSettings, require_run_timeout_support
from ._lifecycle import Lifecycle, State
from ._scheduler_settings import Dispatch, Scheduler, SchedulerSettings
from ._source import LeaseSource
from ._stats import GrinderStats
from ._work import Work
from .hooks import Hooks

__all__ = ["LeaseSource", "WorkGrinder"]

T = TypeVar("T")


_UNCHECKED = object()
"""What ``_last_checked`` holds before any callable was checked; never a user's ``fn``."""

_OBSERVABLE = frozenset({State.RUNNING, State.STOPPING, State.BROKEN})
"""States in which the owning loop can still answer ``stats_from_thread``."""


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

    Args:
        executor_manager: Where batches lease their executors.
        max_wait_seconds: Longest time the oldest pending job waits for a batch.
        batch_size_threshold: Pending jobs that start a batch at once.
        lease_seconds: Lease length asked for each batch.
        owner_prefix: Prefix of each batch's lease owner label.
        logger: Logger for lifecycle events; defaults to ``gristmill.grinder``.
        max_concurrent_batches: Batches that may run at once (each holds a
            lease). Defaults to the manager's ``max_pools``.
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
            jobs cannot be stopped; a weight that is not a positive finite
            number, or ``owner_weights`` that cannot be read;
            ``owner_weights`` or ``priority_aging_seconds`` with the
            ``"fifo"`` scheduler.
        TypeError: a parameter has the wrong type.
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
        scheduler: Scheduler = "fifo",
        owner_weights: Mapping[str, float] | Mapping[str | None, float] | None = None,
        max_pending_per_owner: int | None = None,
        priority_aging_seconds: float | None = None,
        dispatch: Dispatch = "wait",
    ) -> None:
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
            manager=executor_manager,
            scheduling=SchedulerSettings.build(
                scheduler=scheduler,
                dispatch=dispatch,
                owner_weights=owner_weights,
                max_pending_per_owner=max_pending_per_owner,
                priority_aging_seconds=priority_aging_seconds,
            ),
        )
        if hooks is not None and not isinstance(hooks, Hooks):
            raise TypeError(f"hooks must be a gristmill.Hooks, got {type(hooks).__name__}")
        self._manager = executor_manager
        self._clock: Clock = clock or getattr(executor_manager, "clock", None) or MonotonicClock()
        self._engine = Engine(
            settings,
            executor_manager,
            self._clock,
            logger or logging.getLogger("gristmill.grinder"),
            hooks,
            self._on_crash,
            self._on_orphaned,
        )
        self._life = Lifecycle(
            "WorkGrinder", "from other threads use submit_from_thread()/stats_from_thread()"
        )
        self._crash: BaseException | None = None
        self._last_checked: object = _UNCHECKED

    async def start(self) -> None:
        """Start the background task and bind the grinder to the running loop.

        Idempotent on the owning loop; a stopped grinder can be started again.

        Raises:
            WrongLoopError: already running on another loop.
            NotStartedError: a ``stop()`` is still in progress.
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
        loop = life.bind()
        life.state = State.RUNNING
        self._engine.start(loop)

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

        Raises:
            WrongLoopError: called from a loop other than the owning one.
            ValueError: ``timeout`` is negative, NaN or infinite.
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
        if cancel_pending:
            engine.cancel_everything()
        else:
            engine.flush()
            if limit is not None:
                timer = self._clock.call_at(self._clock.time() + limit, engine.cancel_everything)
        try:
            await engine.wait_finished()
        finally:
            if timer is not None:
                timer.cancel()
        self._last_checked = _UNCHECKED
        if life.state is State.STOPPING:
            life.state = State.STOPPED

    async def submit(
        self, fn: Callable[..., T], /, *args: Any, owner: str | None = None, **kwargs: Any
    ) -> T:
        """Queue ``fn(*args, **kwargs)`` and wait for its result. Owning loop only.

        ``fn`` is positional-only, so a keyword argument named ``fn`` reaches
        the callable. Cancelling the await removes a job that is still pending.
        With a full queue (``max_pending``) it first waits for room, or is
        rejected, as ``overflow`` says.

        Raises:
            NotStartedError: the grinder is not running or is stopping.
            WrongLoopError: called from a loop other than the owning one.
            GrinderCrashedError: the grinder's background task failed.
            GrinderOverloadedError: the queue, or the owner's quota
                (``max_pending_per_owner``), is full and ``overflow="reject"``.
            TypeError: ``fn`` is not callable, or is an async function; or the
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

    async def enqueue(
        self, fn: Callable[..., T], /, *args: Any, owner: str | None = None, **kwargs: Any
    ) -> asyncio.Future[T]:
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
            TypeError: ``fn`` is not callable, or is an async function; or the
                grinder keeps per-owner books and ``owner`` is neither a
                ``str`` nor ``None``.
        """
        future = self._put_at_once(fn, args, kwargs, owner)
        if future is None:
            future = await self._enqueue("enqueue", fn, args, kwargs, owner)
        return future

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

    def submit_from_thread(
        self, fn: Callable[..., T], /, *args: Any, owner: str | None = None, **kwargs: Any
    ) -> concurrent.futures.Future[T]:
        """Queue a job from another OS thread; returns a thread-safe future.

        Cancelling the returned future cancels the job if it is still pending.
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
        self._check_callable(fn)
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
        self._check_callable(fn)
        engine = self._engine
        if not engine.admission.has_room(owner):
            try:
                await engine.admission.wait_for_room(owner)
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

        def put_now() -> asyncio.Future[T] | None:
            self._require_accepting_state()
            if not self._engine.admission.has_room(owner):
                return None
            job: asyncio.Future[T] = self._engine.put(
                fn, args, kwargs, owner, deadline, run_timeout, priority
            )
            return job

        async def put_later() -> T:  # wait for room (or be refused) on the loop
            future = await self._enqueue(
                "submit_from_thread", fn, args, kwargs, owner, deadline, run_timeout, priority
            )
            return await future

        return enqueue_from_thread(loop, "WorkGrinder", put_now, put_later)

    def _check_callable(self, fn: object) -> None:
        """``validate.sync_callable``, skipped for the function checked last (owning loop)."""
        if fn is not self._last_checked:
            validate.sync_callable(fn)
            self._last_checked = fn

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
