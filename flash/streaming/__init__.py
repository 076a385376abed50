"""The streaming layer: `event_callback` generators whose `stream_props` reach the page over SSE."""
from .decorators import callback, event_callback
from .props import StreamProps, stream_props
from .runs import RunRegistry, StreamRun

__all__ = ["callback", "event_callback", "stream_props", "StreamProps", "RunRegistry", "StreamRun"]
