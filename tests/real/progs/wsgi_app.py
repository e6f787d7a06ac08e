"""wsgi_app.py: a tiny WSGI application for the preforking Python servers
(uwsgi, gunicorn --preload). Its table is built at import time, in the
master, before the workers are forked; each request reads part of it."""
import hashlib

TABLE = {i: f"row-{i}-" * 8 for i in range(100_000)}


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/table":
        body = hashlib.md5("".join(TABLE[i] for i in range(0, 100_000, 7)).encode()).hexdigest()
    elif path == "/hello":
        body = "hello from wsgi"
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]
    data = (body + "\n").encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]
