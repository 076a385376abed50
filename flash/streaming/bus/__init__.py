"""The cross-worker stream bus: runs and downlinks on different workers joined through Redis
(stream_bus), the holder's side (follow), the replay log (runlog), the same-worker shortcut (lane).
Below the run room: a run publishes through the bus, the bus only names runs and downlinks in
annotations."""
