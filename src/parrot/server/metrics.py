"""Prometheus metrics, one registry per app (so several apps can live in one process)."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from .scheduler import Scheduler

CONTENT_TYPE = CONTENT_TYPE_LATEST
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
_FIRST_AUDIO_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)


class Metrics:
    """The server's counters; ``render()`` gives the Prometheus text exposition."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        queue_depth = Gauge(
            "parrot_queue_depth", "Speech jobs waiting for a worker thread", registry=self.registry
        )
        queue_depth.set_function(lambda: scheduler.queue_depth)
        active = Gauge(
            "parrot_active_jobs", "Speech streams admitted and not finished", registry=self.registry
        )
        active.set_function(lambda: scheduler.active_jobs)
        tasks = Gauge("parrot_event_loop_tasks", "asyncio tasks alive on the event loop", registry=self.registry)
        tasks.set_function(_loop_tasks)
        self.websocket_sessions = Gauge(
            "parrot_websocket_sessions", "WebSocket sessions open (speech stream and realtime)", registry=self.registry
        )
        ProcessCollector(registry=self.registry)  # process_resident_memory_bytes, process_open_fds, CPU seconds
        self.request_seconds = Histogram(
            "parrot_request_duration_seconds",
            "HTTP request time until the last byte of the response was sent",
            ["route", "method", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.first_audio_seconds = Histogram(
            "parrot_time_to_first_audio_seconds",
            "Time from request to the first audio bytes handed to the client",
            ["route"],
            buckets=_FIRST_AUDIO_BUCKETS,
            registry=self.registry,
        )
        self.audio_seconds = Counter(
            "parrot_audio_seconds", "Seconds of audio produced", ["route"], registry=self.registry
        )
        self.clone_seconds = Histogram(
            "parrot_voice_clone_seconds",
            "Time to clone a voice (transcription and fitting; not the wait for the clone slot)",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "parrot_errors", "Errors reported to clients, by kind", ["kind"], registry=self.registry
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _loop_tasks() -> float:
    try:
        return float(len(asyncio.all_tasks()))
    except RuntimeError:  # rendered outside the event loop
        return float("nan")
