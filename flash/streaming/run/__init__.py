"""Running streams: a run's state and replay buffer (runs), the pump that drives its generator
(pump), and the dev tools' view of live and failed runs (devtools). Uses declare and bus."""
