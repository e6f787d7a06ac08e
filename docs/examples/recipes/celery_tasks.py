"""A Celery app whose task reads the catalogue the worker's main process
built at import, before the prefork pool forked its children.

CELERY_GC_FREEZE=1: call gc.freeze() when the worker starts, before the pool
forks (cowguard --python does it before every fork by itself).

Broker and result backend: a local redis-server, REDIS_URL (default
redis://127.0.0.1:6390/0).
"""
import gc
import os

from celery import Celery, signals

from catalog import price_sum

url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6390/0")
app = Celery("celery_tasks", broker=url, backend=url)
app.conf.worker_hijack_root_logger = False


if os.environ.get("CELERY_GC_FREEZE") == "1":
    @signals.worker_init.connect
    def freeze_before_the_pool_forks(**kwargs):
        # Everything made so far (the catalogue, Celery's own objects) goes
        # to the collector's permanent generation: no collection in a pool
        # process will write its headers.
        gc.freeze()


@app.task
def sum_prices(start, count):
    return price_sum(start, count), os.getpid()
