"""Shared state: what several gateway processes must agree on (key budgets and rate windows, circuit breakers,
sessions).

One interface, two implementations chosen once from the ``state:`` config: ``memory`` (this process only,
the embedded default) and ``redis`` (every replica pointed at one Redis; the ``redis`` extra). Keys call the
interface and never know which one runs. Circuits and sessions are read from in-process copies that a Redis
event bus keeps in step (``bus``), so routing never waits on the network.
"""

from tierwise.state.interface import KeyState, Quota, Refusal, Reservation, open_bus, open_key_state

__all__ = ["KeyState", "Quota", "Refusal", "Reservation", "open_bus", "open_key_state"]
