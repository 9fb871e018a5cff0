"""Server tools: Python functions the server runs when the model calls them.

``registry`` turns the functions named in ``REALTIME_SERVER_TOOLS`` into function tools
(name, description, a JSON schema of their parameters); ``runner`` runs one call; ``calls``
follows a session's calls on whichever carrier hears it (the WebSocket proxy, a WebRTC
call's sideband) and answers the model.
"""

from realtime.tools.runner import ToolContext

__all__ = ["ToolContext"]
