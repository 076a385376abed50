"""The streaming layer: generators whose updates reach the page over one multiplexed SSE downlink.

Four rooms, imports flowing one way (tests/unit/test_import_layers.py):
declare (decorators, spec, props) < bus (cross-worker, Redis) < run (runs, pump) < wire (routes,
downlink, admission, handles, jobs). `host.py` is what the layer needs from the app.
"""

from .declare.decorators import callback, event_callback
from .declare.props import StreamProps, stream_props
from .run.runs import StreamRun
from .wire.downlink import Downlink, DownlinkRegistry

__all__ = ["callback", "event_callback", "stream_props", "StreamProps", "Downlink", "DownlinkRegistry", "StreamRun"]
