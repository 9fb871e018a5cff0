"""voiceproject's URLs: the admin, and the realtime app at the site's root."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("realtime.urls")),
]
