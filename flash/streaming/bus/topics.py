"""What the stream bus's two sides agree on: the runner side (stream_bus.py) writes a run's messages and a
downlink's run list to these topics, the holder side (follow.py) reads them and acknowledges what
it forwarded every `ACK_EVERY` messages. A module of its own so that neither side imports the other
for them."""

from __future__ import annotations

CONTROL_TOPIC = "_flash/control"
ACK_EVERY = 16


def run_topic(run_id: str) -> str:
    return f"_flash/run/{run_id}"


def downlink_topic(downlink_id: str) -> str:
    return f"_flash/dl/{downlink_id}"
