"""`python -m bot`: run the bot with settings from the environment and `.env`."""

import sys

from aiohttp import web

from bot.app import create_app
from bot.logging_setup import configure_logging
from bot.settings import Settings, SettingsError


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_level)
    try:
        application = create_app(settings)
    except SettingsError as problem:
        sys.exit(f"Not starting: {problem}")
    web.run_app(application, host=settings.host, port=settings.port, print=None)


if __name__ == "__main__":
    main()
