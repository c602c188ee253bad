"""Is a download host reachable? One quick TCP probe, so offline machines fail in seconds.

Libraries that download weights (huggingface_hub, ultralytics) retry a dead network for minutes
("Retrying in 8s [Retry 5/10]"). Callers ask :func:`reachable` first and, when it says no, fail
at once with a sentence of their own. The probe connects to the proxy when ``HTTPS_PROXY`` (or
``https_proxy``, ``ALL_PROXY``) names one, since that is where a download would go.
"""

from __future__ import annotations

import os
import socket
import threading
from urllib.parse import urlsplit

PROBE_TIMEOUT_S = 3.0


def hf_offline() -> bool:
    """``HF_HUB_OFFLINE`` is set to a true value (the Hugging Face Hub must not be contacted)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _proxy_for(host: str) -> tuple[str, int] | None:
    no_proxy = os.environ.get("NO_PROXY") or os.environ.get("no_proxy") or ""
    if any(host.endswith(p.strip().lstrip(".")) for p in no_proxy.split(",") if p.strip()):
        return None
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        value = os.environ.get(name)
        if value:
            parts = urlsplit(value if "://" in value else f"http://{value}")
            if parts.hostname:
                return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    return None


def reachable(host: str, port: int = 443, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to ``host:port`` (or to the configured proxy) opens within
    ``timeout`` seconds. Name resolution failing counts as unreachable, and a resolver that
    hangs is given up on after the same ``timeout`` (the probe runs in a daemon thread)."""
    target = _proxy_for(host) or (host, port)
    answer: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection(target, timeout=timeout):
                answer.append(True)
        except OSError:  # refused, timed out, no route, unknown host
            answer.append(False)

    thread = threading.Thread(target=probe, name=f"probe-{host}", daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return bool(answer and answer[0])
