"""What the gateway tells its operators: Prometheus metrics, a JSON access log and OpenTelemetry traces.

All three listen to the ledger's writer thread (finished, priced entries), so the request path pays nothing
for them; each is off, and not even imported, unless configured.
"""

from tierwise.telemetry.hub import Telemetry

__all__ = ["Telemetry"]
