"""`lucida serve`: the photo search web app (a JSON API and its static page)."""

from lucida.web.app import create_app

__all__ = ["create_app"]
