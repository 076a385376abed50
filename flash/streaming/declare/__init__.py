"""Declaring streams: the decorators, what they record (spec), what a stream yields (props,
outputs), Dash 4.5's streaming callbacks taken over (adopt), and the wiring into Dash's callback
graph. Imports nothing from the other rooms: a declaration exists before anything runs."""
