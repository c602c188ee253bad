"""``python -m demo``: serve the Gradio web demo.

python -m demo                                   # http://127.0.0.1:7860
python -m demo --checkpoints runs/ckpts --port 8080 --max-upload-mb 100 --max-seconds 60
"""

from __future__ import annotations

import argparse
import errno
import socket
from collections.abc import Sequence
from pathlib import Path

from cgclip.errors import ArgumentParser, UserError, cli
from cgclip.io.config import number_arg
from cgclip.threads import add_threads_argument, configure_threads


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="python -m demo",
        description="Web demo: upload a clip, track it, browse the identities, search them by text.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (0.0.0.0: everyone)")
    p.add_argument("--port", type=number_arg("[1, 65535]", int), default=7860)
    p.add_argument(
        "--checkpoints",
        type=Path,
        help="folder of CG-CLIP checkpoints (*.safetensors + .json), offered by name",
    )
    p.add_argument(
        "--max-upload-mb",
        type=number_arg("(0, inf)"),
        default=200.0,
        help="largest upload accepted",
    )
    p.add_argument(
        "--max-seconds", type=number_arg("(0, inf)"), default=120.0, help="longest clip accepted"
    )
    p.add_argument(
        "--device",
        default="auto",
        help="torch device for the detector and ReID model: auto (CUDA when present, else "
        "cpu), cpu, cuda or cuda:N",
    )
    p.add_argument(
        "--concurrency",
        type=number_arg("[1, inf)", int),
        default=1,
        help="tracking jobs run at once",
    )
    p.add_argument(
        "--queue-size",
        type=number_arg("[1, inf)", int),
        default=16,
        help="jobs that may wait in the queue",
    )
    p.add_argument(
        "--clip-weights",
        type=Path,
        help="local open_clip ViT-B-16 state dict for the 'clip' model (no download)",
    )
    p.add_argument(
        "--sample-frames",
        type=number_arg("[10, inf)", int),
        default=250,
        help="length of the sample clip",
    )
    add_threads_argument(p)
    return p


@cli
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.clip_weights is not None and not args.clip_weights.is_file():
        raise UserError(f"--clip-weights {args.clip_weights}: no such file")

    check_address(args.host, args.port)  # before the slow model loading, not after it

    # Each tracking job decodes beside the shared torch pool.
    print(configure_threads(args.threads, concurrent=args.concurrency).describe())

    from cgclip.runtime.load import device_line, resolve_device
    from demo.app import DemoSettings, build_app, launch
    from demo.pipeline import Limits

    device = str(resolve_device(args.device))
    print(device_line(args.device, device))

    settings = DemoSettings(
        checkpoints=args.checkpoints,
        limits=Limits(max_upload_mb=args.max_upload_mb, max_seconds=args.max_seconds),
        device=device,
        concurrency=args.concurrency,
        queue_size=args.queue_size,
        clip_weights=args.clip_weights,
        sample_frames=args.sample_frames,
    )
    app = build_app(settings)
    try:
        launch(app, settings, host=args.host, port=args.port)
    except OSError as err:  # taken in the meantime: Gradio says "Cannot find empty port"
        if "empty port" not in str(err):
            raise
        raise UserError(
            address_problem(args.host, args.port, OSError(errno.EADDRINUSE, ""))
        ) from None
    return 0


def check_address(host: str, port: int) -> None:
    """Fail now, naming the option, if the server could not listen on ``host:port``."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise UserError(f"--host {host}: not a host name or address this machine knows") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
        try:
            probe.bind(address)
        except OSError as err:
            raise UserError(address_problem(host, port, err)) from None


def address_problem(host: str, port: int, err: OSError) -> str:
    """The one-line message for a server that cannot listen on ``host:port``."""
    if err.errno == errno.EADDRINUSE:
        return f"--port {port}: already in use on {host} (another server?); choose another --port"
    if err.errno == errno.EACCES:
        return f"--port {port}: ports below 1024 need administrator rights; choose another --port"
    if err.errno == errno.EADDRNOTAVAIL:
        return f"--host {host}: not an address of this machine; use 127.0.0.1 or 0.0.0.0"
    return (
        f"cannot listen on {host}:{port} ({err.strerror or err}); choose another --port or --host"
    )


def exit_now(code: int) -> None:
    """Leave the process at once: atexit handlers run and output is flushed, but the
    interpreter's module teardown (seconds with torch and Gradio loaded, on a busy machine) is
    skipped, so Ctrl-C on the server returns the prompt promptly."""
    import atexit
    import os
    import sys

    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
