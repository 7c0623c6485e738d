"""The stage contract: what a stage declares, and the handler or source that the runners drive.

In: nothing at run time; each stage package declares its stages with :class:`ConsumingStage` (a
topic in, topics out: extract, classify, alert) or :class:`SourceStage` (no topic in: the poller).
Out: the declarations the app's registry lists. :mod:`wirewatch.runner` turns one, with a
:class:`StageContext`, into a running worker; the stage itself never sees Kafka: a
:class:`Handler` maps a batch of messages to outputs, a :class:`Source` produces outputs in cycles
and hands them to a :class:`~wirewatch.kafka.Delivery` the runner owns.

A declaration's ``build`` is called only when the stage runs, so a stage's heavy modules (the
extractor, the model) are imported by the stage that needs them, not by every command.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Generic, Protocol, TypeVar

from wirewatch.schema import Message

if TYPE_CHECKING:  # only named in signatures: importing the contract imports neither Kafka nor the database
    from wirewatch.config import Settings
    from wirewatch.database import Database
    from wirewatch.kafka import Delivery, KafkaWiring, Output
    from wirewatch.progress import Progress

M = TypeVar("M", bound=Message)


class StageError(RuntimeError):
    """A stage cannot start as configured (rules with errors, a model file that cannot be read...);
    the message says what to change."""


class Handler(Generic[M]):
    """What a consuming stage does with its messages; the runner does everything else.

    :meth:`handle` maps one message to its outputs (an exception: retried, then the record is
    dead-lettered; a transient one: the runner waits and retries). A stage that is faster on many
    messages at once sets ``batches`` and overrides :meth:`handle_batch` (one output list per
    message, in order); if a batch fails as a whole, its messages are handled one by one.
    """

    batches: ClassVar[bool] = False

    def handle(self, message: M) -> list[Output]:
        raise NotImplementedError

    def handle_batch(self, messages: list[M]) -> list[list[Output]]:
        return [self.handle(m) for m in messages]

    def flush(self) -> None:
        """When no record came: finish what waits (the alert stage's outbox), notice a changed file."""

    def reload(self) -> None:
        """SIGHUP: read again what the stage read at start (rules, watches)."""

    def close(self) -> None:
        """The stage is done: release its clients."""


class Source:
    """A stage that reads no topic (the poller): the runner calls :meth:`cycle` again and again.

    :meth:`cycle` publishes through the runner's ``delivery`` and records what it published only
    after :meth:`~wirewatch.kafka.Delivery.deliver` returned (the broker holds it); it returns the
    seconds until it has work again (None: it cannot tell). An exception of the declaration's
    ``transient`` or ``retried`` types makes the runner back off and call it again.
    """

    def open(self) -> None:
        """Before the first cycle, in the runner's thread."""

    def cycle(self, delivery: Delivery) -> float | None:
        raise NotImplementedError

    def reload(self) -> None:
        """SIGHUP: read again what the source read at start."""

    def close(self) -> None:
        """After the last cycle, in the runner's thread."""


class Worker(Protocol):
    """A stage at work: :meth:`run` until ``stop`` is set (in a thread of its own)."""

    def run(self, stop: threading.Event) -> None: ...

    def reload(self) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class StageContext:
    """What a stage is built from: the settings, this process's counters, and ``database``, which opens
    the shared database at first call (a stage whose declaration says it keeps nothing there never
    asks for it); each stage builds its own store of its own rows on it."""

    settings: Settings
    wiring: KafkaWiring
    database: Callable[[], Database]
    progress: Progress
    once: bool = False  # a source: one cycle, then stop


@dataclass(frozen=True, kw_only=True)
class Stage:
    """What every stage declares. ``outputs`` are the topics it publishes on (dead letters aside);
    ``events`` the prefixes of the progress events that are its own (its heartbeat reports them);
    ``product`` the event that counts what it delivers when it publishes nothing (the alerts sent);
    ``summary`` how ``wirewatch status`` sums up its events (a format string over their counts);
    ``keeps_state`` whether it keeps rows in the database (then its workers open it, and write the
    configuration's feeds, watches and subscribers into it, before they start)."""

    name: str
    help: str
    outputs: tuple[str, ...] = ()
    output_types: tuple[type[Message], ...] = ()
    events: tuple[str, ...] = ()
    product: str = ""
    summary: str = ""
    transient: tuple[type[BaseException], ...] = ()  # an outage, not the message's fault: wait and retry
    keeps_state: bool = False

    @property
    def reads(self) -> str:
        """What its ``consumed`` counter counts: its input topic, or what a source reads."""
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class ConsumingStage(Stage, Generic[M]):
    """A stage fed by one topic: ``input``, whose records are ``message_type`` messages."""

    input: str
    message_type: type[M]
    build: Callable[[StageContext], Handler[M]]

    @property
    def reads(self) -> str:
        return self.input


@dataclass(frozen=True, kw_only=True)
class SourceStage(Stage):
    """A stage fed by no topic. ``retried``: errors that are no outage but a cycle to try again (logged
    with their trace); ``after_broker_loss``: what to publish again when the broker started empty."""

    source: str  # what it reads, as its counters name it
    build: Callable[[StageContext], Source]
    retried: tuple[type[BaseException], ...] = ()
    after_broker_loss: Callable[[StageContext, Delivery], int] | None = field(default=None)

    @property
    def reads(self) -> str:
        return self.source
