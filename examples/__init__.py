"""Runnable Flash example apps; `python -m examples` serves them all as a gallery."""
