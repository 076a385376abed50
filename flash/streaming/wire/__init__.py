"""The wire: the stream routes (endpoint, direct), the per-browser SSE downlink, what a worker
admits, signed handles and their key, MCP tools over streams, and streaming jobs (a Celery worker
is one more end of the wire). The top room: it may use all the others."""
