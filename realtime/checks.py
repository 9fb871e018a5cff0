"""System check: the app's settings are valid (``manage.py check`` and runserver say so)."""

from typing import Any

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

from realtime.conf import RealtimeSettings


@register()
def check_realtime_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    try:
        RealtimeSettings.from_settings(settings)
    except ImproperlyConfigured as error:
        return [Error(str(error), id="realtime.E001")]
    return []
