"""Static files in production: WhiteNoise's compressed, hashed storage, and its middleware
made async-capable."""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponseBase
from whitenoise.middleware import WhiteNoiseMiddleware
from whitenoise.storage import CompressedManifestStaticFilesStorage


class HashedStaticFiles(CompressedManifestStaticFilesStorage):
    """Compressed files under hashed names, which WhiteNoise serves cached for good.

    The page's ES modules import one another (``import … from "./audio.js"``): rewritten
    to the hashed names too, so that a deploy never mixes one release's module with
    another's from a cache.
    """

    support_js_module_import_aggregation = True


class AsyncWhiteNoiseMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise's middleware, async under an ASGI server.

    WhiteNoise's own is sync only: under ASGI, Django would then run every request below
    it, static or not, through a thread (and the view's tasks inherit a thread-sensitive
    executor that ends with the request). Its lookup is a dict get, so a request for no
    static file goes straight on; only serving a file (opening it) takes a thread.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        super().__init__(get_response)
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if self.is_async:
            return self.__acall__(request)
        return super().__call__(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        if self.autorefresh:
            static_file = await sync_to_async(self.find_file)(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            return await sync_to_async(self.serve)(static_file, request)
        return await self.get_response(request)
