"""Prometheus metrics served on /metrics by the callback server."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["Metrics"]


class Metrics:
    """The process's metrics, on a registry of its own (so tests can build several)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.callbacks = Counter(
            "voicedial_callbacks_total",
            "Twilio callbacks handled",
            ["kind"],
            registry=self.registry,
        )
        self.signature_rejections = Counter(
            "voicedial_signature_rejections_total",
            "Callbacks refused for a missing or wrong X-Twilio-Signature",
            registry=self.registry,
        )
        self.callback_holds = Counter(
            "voicedial_callback_holds_total",
            "Voice and Gather webhooks answered with a holding turn (Redis not answering)",
            registry=self.registry,
        )
        self.calls_started = Counter(
            "voicedial_calls_started_total", "Calls placed", ["campaign"], registry=self.registry
        )
        self.calls_finished = Counter(
            "voicedial_calls_finished_total",
            "Calls settled",
            ["campaign", "disposition"],
            registry=self.registry,
        )
        self.call_duration = Histogram(
            "voicedial_call_duration_seconds",
            "Answered call durations",
            buckets=(5, 15, 30, 60, 120, 180, 300, 600),
            registry=self.registry,
        )
        self.turn_seconds = Histogram(
            "voicedial_turn_seconds",
            "Server time per interview turn",
            buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0),
            registry=self.registry,
        )
        self.deliveries = Counter(
            "voicedial_deliveries_total", "Profile deliveries", ["result"], registry=self.registry
        )
        # Gauges are campaign-wide truths read from Redis at scrape time, so every worker
        # reports the same value however many run; counters are per process (sum them).
        self.active_calls = Gauge(
            "voicedial_active_calls",
            "Calls holding a concurrency lease",
            ["campaign"],
            registry=self.registry,
        )
        self.outbox_pending = Gauge(
            "voicedial_outbox_pending",
            "Profile events not yet handled",
            ["campaign"],
            registry=self.registry,
        )
        self.pace = Gauge(
            "voicedial_calls_per_second",
            "Calls placed per second, last 10 s",
            ["campaign"],
            registry=self.registry,
        )
        self.remaining = Gauge(
            "voicedial_contacts_remaining",
            "Contacts not yet finished",
            ["campaign"],
            registry=self.registry,
        )
