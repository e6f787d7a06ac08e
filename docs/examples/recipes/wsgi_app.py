"""A WSGI app whose module builds the catalogue at import: with gunicorn
--preload (or uWSGI without lazy-apps) the master imports it once and the
workers it forks only read it.

GET /sum?start=S&count=C  ->  the sum of C prices from S on, and the pid
"""
import os
from urllib.parse import parse_qs

from catalog import price_sum


def app(environ, start_response):
    q = parse_qs(environ.get("QUERY_STRING", ""))
    start = int(q.get("start", ["0"])[0])
    count = int(q.get("count", ["1000"])[0])
    body = ("%s %d\n" % (price_sum(start, count), os.getpid())).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


application = app  # uWSGI's default name
