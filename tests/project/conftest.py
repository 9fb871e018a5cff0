"""voiceproject's own tests: its settings, its documentation, the project under its servers.

They run with the project's settings (`pytest --ds=tests.project.settings tests/project`, as
`make test` does); the app's tests, everywhere else under tests/, with tests.app_settings.
"""

import pytest
from django.conf import settings

if settings.SETTINGS_MODULE != "tests.project.settings":
    raise pytest.UsageError(
        "tests/project needs the project's settings: "
        "pytest --ds=tests.project.settings tests/project (make test runs both suites)"
    )
