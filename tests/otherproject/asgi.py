import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.otherproject.settings")
django_application = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from realtime.flow import FlowControlMiddleware  # noqa: E402
from realtime.lifecycle import ServerLifecycle  # noqa: E402
from realtime.middleware import ApiBodyLimit  # noqa: E402
from realtime.routing import websocket_urlpatterns  # noqa: E402

application = ServerLifecycle(
    FlowControlMiddleware(
        ProtocolTypeRouter(
            {
                "http": ApiBodyLimit(django_application),
                "websocket": AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
            }
        )
    )
)
