"""The console: read-only pages over the query layer, served by the gateway at ``/console`` and written as a
self-contained file by ``tierwise report --html``. It shows the query layer's figures and computes none."""
