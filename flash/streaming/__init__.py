"""The streaming layer: generators whose updates reach the page over one multiplexed SSE downlink."""
from .decorators import callback, event_callback
from .downlink import Downlink, DownlinkRegistry
from .props import StreamProps, stream_props
from .runs import StreamRun

__all__ = ["callback", "event_callback", "stream_props", "StreamProps", "Downlink", "DownlinkRegistry", "StreamRun"]
