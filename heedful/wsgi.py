"""WSGI entry point, served by gunicorn (production) or waitress (embedded)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heedful.settings")

application = get_wsgi_application()
