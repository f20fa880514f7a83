"""The bot contract: what a bot declares, and the per-run handles the core gives its steps.

A bot is one object of a :class:`Bot` subclass, published under the entry-point group
``backoffice.bots``. It declares:

- ``name``: the stable name (``my-bot``), used in item keys, the CLI and the audit log;
- ``Inputs``: a pydantic model (subclass of :class:`Inputs`) of typed, described fields. The core
  derives ``backoffice run NAME`` options and help, the Prefect flow's parameters and the
  deployment's parameter schema from it; :data:`InputFile`/:data:`InputDir` are checked to exist;
- ``model``: the pydantic model of an item's payload, with personal fields marked by a data class
  (:mod:`backoffice.data_classes`), and ``title_field``, the dotted path that titles an item;
- ``record_class``: the retention class of its items and audit entries (``financial``, ``payroll``...);
- ``amount_class``: the data class of an item's ``amount`` when it is personal (a person's pay);
- ``party_field``: the dotted path naming the counterparty an item is about (a vendor), which the
  access review uses to find who changed a party's bank details and approved its items;
- ``ruleset``: its :class:`~backoffice.rules.RuleSet`;
- the steps, each handed the per-run state explicitly (no module globals, no discovery by getattr):

  ``open(inputs, run) -> state``  load what the run needs (look-ups, sessions); default: a bare
  :class:`State`;
  ``read(state) -> Iterable[Item]``  one item per input unit;
  ``rules_context(state)``  what the rules receive as their second argument (default: the state);
  ``act(items, state) -> Iterable[Outcome]``  do the work for items that passed, idempotent by key;
  a list, or a generator yielding each outcome when it is known, so the runner's circuit breaker
  (:mod:`backoffice.runner.breaker`) can stop a batch whose target is down;
  ``finish(state, summary) -> dict``  after the last batch (reports); returns extra summary fields;
  ``close(state)``  always called at the end of a run, also after a failure (sessions, browsers).

- ``exit_code(summary)``: the exit code of ``backoffice run NAME`` for a completed run (default 0);
- ``commands()``: optional typer apps that the CLI mounts (``backoffice extract invoice``);
- ``flows()``: optional extra Prefect flows the bot offers for deployment (e.g. a split run).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

from backoffice.data_classes import DataClass
from backoffice.inputs import InputDir, InputFile, Inputs, OutputFile, parse_inputs
from backoffice.items import EvidenceRef, Item, Kind
from backoffice.rules import RuleSet, Violation

if TYPE_CHECKING:
    from backoffice.runner.handle import Run, RunSummary

__all__ = [
    "Bot",
    "InputDir",
    "InputFile",
    "Inputs",
    "Outcome",
    "OutputFile",
    "State",
    "parse_inputs",
]


InputsT = TypeVar("InputsT", bound=Inputs)
StateT = TypeVar("StateT", bound="State[Any]")


class State(Generic[InputsT]):
    """Per-run state: the run's inputs and its :class:`~backoffice.runner.Run` handle.

    Bots subclass it for what they load in ``open`` (look-ups, sessions, counters). One state
    object lives for one run; the core hands it to every step of that run and to nothing else.
    """

    def __init__(self, inputs: InputsT, run: Run) -> None:
        self.inputs = inputs
        self.run = run


@dataclass
class Outcome:
    """What ``act`` did with one item."""

    key: str
    ok: bool
    violations: list[Violation] = field(default_factory=list)
    evidence: list[EvidenceRef] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)
    action: str = "item.done"  # audit action on success, e.g. "invoice.posted"
    # On failure: "business" (a rule or a read-back broke) or "system" (the target failed this item
    # after retries, e.g. an element went missing); system exceptions are retried, not corrected.
    kind: Kind = "business"


class Bot(Generic[InputsT, StateT]):
    """Base class of every bot; see the module docstring for what a subclass declares."""

    name: ClassVar[str]
    Inputs: ClassVar[type[Inputs]]
    model: ClassVar[type[BaseModel]]
    ruleset: RuleSet
    record_class: ClassVar[str] = "operational"
    title_field: ClassVar[str | None] = None
    amount_class: ClassVar[DataClass | None] = None
    party_field: ClassVar[str | None] = None
    summary_labels: ClassVar[tuple[str, str]] = ("items", "done")
    description: ClassVar[str] = ""

    # -- steps ------------------------------------------------------------------------------------
    def open(self, inputs: InputsT, run: Run) -> StateT:
        """Load what the run needs; the default state holds only the inputs and the run."""
        return State(inputs, run)  # type: ignore[return-value]

    def read(self, state: StateT) -> Iterable[Item]:
        """Yield one item per input unit; unreadable units as ``Item.from_input_error``."""
        raise NotImplementedError(f"{type(self).__name__}.read")

    def rules_context(self, state: StateT) -> Any:
        """What every rule gets as its second argument."""
        return state

    def act(self, items: list[Item], state: StateT) -> Iterable[Outcome]:
        """Do the work for items that passed the rules (idempotent by ``item.key``); default:
        nothing to do, every item is done. May yield the outcomes one by one: the runner stops
        consuming (and leaves the rest ``new``) when its circuit breaker trips; raise
        :class:`~backoffice.errors.TargetDown` when the target is down."""
        return [Outcome(key=it.key, ok=True) for it in items]

    def evidence(self, item: Item, violations: list[Violation], state: StateT) -> Iterable[EvidenceRef]:
        """Evidence for an item the rules are queueing, stored with ``state.run.store_evidence``
        (e.g. the records its rules compared it with, as structured JSON the inbox shows side by
        side: :mod:`backoffice.evidence_records`); called once per queued item. Default: none."""
        return ()

    def finish(self, state: StateT, summary: RunSummary) -> Mapping[str, Any] | None:
        """After the last batch of a run (not of a reprocess); extra fields for the run summary."""
        return None

    def close(self, state: StateT) -> None:
        """Always called once the run ends, also after a failure."""

    def exit_code(self, summary: Mapping[str, Any]) -> int:
        """The exit code of ``backoffice run NAME`` for a run that completed: 0 (exceptions are
        queued, not failures) unless the bot says otherwise (e.g. unreadable input rows)."""
        return 0

    # -- plugin extras ----------------------------------------------------------------------------
    def commands(self) -> Mapping[str, Any]:
        """Extra CLI command groups, name -> typer.Typer (e.g. ``{"extract": app}``)."""
        return {}

    def flows(self) -> list[Any]:
        """Extra Prefect flows this bot offers for deployment (besides its run flow)."""
        return []

    def parse_inputs(self, values: Mapping[str, Any]) -> InputsT:
        return parse_inputs(self.Inputs, values)  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"<bot {self.name}>"
