"""Send TASKS tasks of 5,000 products each to the worker of celery_tasks.py
and print how many each pool process ran (run it plainly, not under
cowguard)."""
import collections
import sys

from celery_tasks import sum_prices

n = int(sys.argv[1]) if len(sys.argv) > 1 else 40
results = [sum_prices.delay(i * 5000, 5000) for i in range(n)]
by_pid = collections.Counter()
total = 0.0
for r in results:
    value, pid = r.get(timeout=60)
    total += value
    by_pid[pid] += 1
print("%d tasks, sum %.2f, by %d processes" % (n, total, len(by_pid)))
