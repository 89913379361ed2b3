"""`python -m bot`: run the bot with settings from the environment and `.env`.

Stopped by SIGTERM (``kill``, a service manager) or SIGINT (Ctrl+C), it stops once and cleanly: it stops taking
requests, lets the work in flight finish, then runs the app's cleanup (the workers stop, the HTTP client session and
the database connections close). A second signal while it is stopping is logged and changes nothing: the first one's
cleanup finishes rather than being cut off half way (which left connections closing under a cancelled task).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
import sys

from aiohttp import web

from bot.app import create_app
from bot.logging_setup import configure_logging
from bot.settings import Settings, SettingsError

log = logging.getLogger("bot")

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_REQUESTS_GRACE_S = 10.0  # requests in flight may finish within this once a stop is asked for (Teams waits ~15 s)


class PortInUseError(Exception):
    """The port the bot should listen on is taken (by another program, or a bot still running)."""


async def serve(application: web.Application, host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT, then clean up once.

    Raises:
        PortInUseError: the port is taken; nothing was left running.
    """
    runner = web.AppRunner(application, handle_signals=False)
    await runner.setup()  # the app's start-up: database migrations, workers
    try:
        site = web.TCPSite(runner, host, port, shutdown_timeout=_REQUESTS_GRACE_S)
        try:
            await site.start()
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise PortInUseError(f"port {port} on {host} is in use") from error
            raise
        log.info("listening", extra={"host": host, "port": port})
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def asked_to_stop(signum: signal.Signals) -> None:
            if stop.is_set():
                log.info("already stopping: %s ignored", signum.name)
                return
            log.info("stopping: %s", signum.name)
            stop.set()

        for signum in _STOP_SIGNALS:
            loop.add_signal_handler(signum, asked_to_stop, signum)
        await stop.wait()
    finally:
        await runner.cleanup()  # stops the site, then the app's cleanup (workers, HTTP session, database)
    log.info("stopped")


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_level)
    try:
        application = create_app(settings)
    except SettingsError as problem:
        sys.exit(f"Not starting: {problem}")
    try:
        asyncio.run(serve(application, settings.host, settings.port))
        for signum in _STOP_SIGNALS:  # stopped: a late signal must not turn a clean exit into an interrupted one
            signal.signal(signum, signal.SIG_IGN)
    except PortInUseError:
        sys.exit(
            f"Not starting: port {settings.port} on {settings.host} is already in use, by another program or a bot "
            "still running (an earlier scripts/dev?). Stop it (see who holds it: ss -ltnp), or choose another port "
            "with POLICYBOT_PORT."
        )


if __name__ == "__main__":
    main()
