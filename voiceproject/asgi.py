"""ASGI entry point: daphne (`make run`, `manage.py runserver`) or uvicorn serves it."""

import logging
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voiceproject.settings")
# Django's get_asgi_application(), with the standard middleware's hooks run on the event
# loop (voiceproject.middleware).
django.setup(set_prefix=False)

from voiceproject.middleware import ASGIHandler  # noqa: E402

django_application = ASGIHandler()

# Imported after setup: these touch settings and models.
from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from realtime.flow import FlowControlMiddleware  # noqa: E402
from realtime.lifecycle import ServerLifecycle  # noqa: E402
from realtime.middleware import ApiBodyLimit  # noqa: E402
from realtime.routing import websocket_urlpatterns  # noqa: E402

# Plain `daphne` serves no static files; in development the page's modules come from here.
http_application = (
    ASGIStaticFilesHandler(django_application) if settings.DEBUG else django_application
)
# Django buffers a whole request body before any view runs: the API's bodies stop past
# their limit (realtime.middleware).
http_application = ApiBodyLimit(http_application)
application = ProtocolTypeRouter(
    {
        "http": http_application,
        # The session cookie identifies the page's user; the consumer checks the Origin
        # itself so that a refusal carries a reason and leaves a record.
        "websocket": AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
    }
)

if settings.REALTIME_EMULATOR:
    logging.getLogger("realtime").warning(
        "No OPENAI_API_KEY: the offline realtime emulator stands in for OpenAI in this process"
    )

# Outermost, where `send` is still the server's own: see realtime.flow.
application = ServerLifecycle(FlowControlMiddleware(application))
