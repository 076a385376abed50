"""Rounds: each round runs every (contender, workload group) once, in a shuffled order, so that
machine noise (other load, thermal drift) hits every contender alike; medians come later."""

from __future__ import annotations

import os
import random
import time
import traceback
from collections import defaultdict
from pathlib import Path
from types import ModuleType
from typing import Any

from .contenders import Contender, Server
from .workloads import Config, w1_inprocess

Samples = dict[str, dict[str, dict[str, list[float]]]]  # workload -> metric -> contender -> values


class Run:
    """Collects samples, extra figures and errors over all rounds."""

    def __init__(self, cfg: Config, workloads: list[ModuleType], contenders: list[Contender], log_dir: Path, seed: int) -> None:
        self.cfg = cfg
        self.workloads = workloads
        self.contenders = contenders
        self.log_dir = log_dir
        self.rng = random.Random(seed)
        self.samples: Samples = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
        self.extra: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
        self.errors: list[dict[str, Any]] = []
        self.loadavg: list[float] = []  # 1-minute load average after each round: other work on the machine

    # --- planning ---------------------------------------------------------------------------
    def _jobs(self, round_no: int) -> list[tuple[str, Any, list[ModuleType]]]:
        single = [w for w in self.workloads if not getattr(w, "CLUSTER", False)]
        http = [w for w in single if w is not w1_inprocess and not getattr(w, "FRESH_SERVER", False)]
        fresh = [w for w in single if getattr(w, "FRESH_SERVER", False)]
        cluster = [w for w in self.workloads if getattr(w, "CLUSTER", False)]
        jobs: list[tuple[str, Any, list[ModuleType]]] = []
        for contender in self.contenders:
            mine = [w for w in http if w.applies(contender)]
            if mine:
                jobs.append(("server", contender, mine))
            if round_no < self.cfg.w5_rounds:
                jobs += [("server", contender, [w]) for w in fresh if w.applies(contender)]
            if round_no < self.cfg.cluster_rounds:
                jobs += [("cluster", contender, [w]) for w in cluster if w.applies(contender)]
        if w1_inprocess in self.workloads:
            apps_served = {c.app for c in self.contenders}
            jobs += [("inprocess", name, [w1_inprocess]) for name, app in w1_inprocess.APPS.items() if app in apps_served]
        self.rng.shuffle(jobs)
        return jobs

    # --- running ----------------------------------------------------------------------------
    def run(self) -> None:
        start = time.monotonic()
        for round_no in range(self.cfg.rounds):
            jobs = self._jobs(round_no)
            if not jobs:
                continue
            print(f"\n== round {round_no + 1}/{self.cfg.rounds}: {len(jobs)} jobs ==", flush=True)
            for kind, who, workloads in jobs:
                if kind == "inprocess":
                    self._inprocess(who)
                elif kind == "cluster":
                    self._cluster(who, workloads[0])
                else:
                    self._server(who, workloads)
            self.loadavg.append(os.getloadavg()[0])
            print(f"   ({time.monotonic() - start:.0f}s elapsed, load average {self.loadavg[-1]:.2f})", flush=True)

    def _record(self, workload: ModuleType, contender: str, figures: dict[str, Any]) -> None:
        keys = {m.key for m in workload.METRICS}
        for key, value in figures.items():
            values = value if isinstance(value, list) else [value]
            if key in keys:
                self.samples[workload.NAME][key][contender] += [v for v in values if v is not None]
            else:
                self.extra[f"{workload.NAME}.{key}"][contender] += values

    def _fail(self, workload: str, contender: str, err: BaseException) -> None:
        message = f"{type(err).__name__}: {err}"
        self.errors.append({"workload": workload, "contender": contender, "error": message})
        print(f"   ! {workload} {contender}: {message.splitlines()[0][:300]}", flush=True)
        if not isinstance(err, RuntimeError):
            traceback.print_exception(err)

    def _inprocess(self, app: str) -> None:
        name = f"{app}/in-process"
        t0 = time.monotonic()
        try:
            figures = w1_inprocess.measure_inprocess(app, self.cfg)
        except Exception as err:
            self._fail("W1", name, err)
            return
        self._record(w1_inprocess, name, figures)
        shown = ", ".join(f"{k} {v:.0f}" for k, v in figures.items())
        print(f"   W1 {name:<24} {shown} us/req  [{time.monotonic() - t0:.0f}s]", flush=True)

    def _server(self, contender: Contender, workloads: list[ModuleType]) -> None:
        t0 = time.monotonic()
        try:
            server = Server(contender, self.log_dir).__enter__()
        except Exception as err:
            self._fail("start", contender.name, err)
            return
        try:
            for workload in workloads:
                t1 = time.monotonic()
                try:
                    figures = workload.measure(server, self.cfg)
                except Exception as err:
                    self._fail(workload.NAME, contender.name, RuntimeError(f"{err}\n{server.log_tail(10)}"))
                    continue
                self._record(workload, contender.name, figures)
                print(
                    f"   {workload.NAME} {contender.name:<24} {_summary(workload, figures)}  [{time.monotonic() - t1:.0f}s]",
                    flush=True,
                )
        finally:
            server.stop()
        print(f"      ({contender.name}: {time.monotonic() - t0:.0f}s with start/stop)", flush=True)

    def _cluster(self, contender: Contender, workload: ModuleType) -> None:
        """W9/W10: the workload starts (and stops) its own redis-server and two workers; a failed
        part (one W9 size) is an error of the run, while the parts that worked are recorded."""
        t0 = time.monotonic()
        try:
            figures = workload.measure_cluster(contender, self.cfg, self.log_dir)
        except Exception as err:
            self._fail(workload.NAME, contender.name, err)
            return
        for error in figures.pop("errors", []):
            self._fail(workload.NAME, contender.name, RuntimeError(error))
        self._record(workload, contender.name, figures)
        label = contender.name + getattr(workload, "CLUSTER_LABEL", " x2 + redis")
        print(f"   {workload.NAME} {label:<24} {_summary(workload, figures)}  [{time.monotonic() - t0:.0f}s]", flush=True)


def _summary(workload: ModuleType, figures: dict[str, Any]) -> str:
    parts = []
    for metric in workload.METRICS:
        value = figures.get(metric.key)
        if value is None:
            continue
        values = value if isinstance(value, list) else [value]
        parts.append(f"{metric.key} " + "/".join(f"{v:,.1f}" for v in values))
    return ", ".join(parts)
