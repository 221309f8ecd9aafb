"""Settings for the test suite: the real settings, with Celery on a Redis database of its own.

Tests and a `make run` session may share one Redis server; a separate database
number keeps a dev worker from picking up test tasks and vice versa.
"""

import os

# Tests run with the local development defaults (the suite checks production refusals in subprocesses).
os.environ.setdefault("DEBUG", "1")

from config.settings import *  # noqa: E402,F403
from config.settings import REDIS_URL  # noqa: E402

TEST_REDIS_URL = REDIS_URL.rsplit("/", 1)[0] + "/15"
CELERY_BROKER_URL = TEST_REDIS_URL
CELERY_RESULT_BACKEND = TEST_REDIS_URL
# Connection checks of bad inputs should fail fast; the cold-start tests set their own values.
TARGET_CONNECT_TIMEOUT = 3
TARGET_RETRY_BASE_SECONDS = 0.05
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
