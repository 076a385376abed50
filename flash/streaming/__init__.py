"""Streaming layer (event_callback / stream_props) — being built in this session."""
from dash import callback  # noqa: F401

__all__ = ["callback"]
