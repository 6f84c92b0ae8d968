"""gunicorn's settings for the web process; gunicorn reads this file from the
working directory."""

import os

# Python runs one thread at a time per process, so the web uses every core only
# with a process per core; two per core plus one keep a core busy while another
# process waits on the database. WEB_CONCURRENCY (gunicorn's own variable) sets
# another number.
cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * (cores or 1) + 1)

# Threaded workers: a sync worker is killed after `timeout` seconds even while
# it streams a long CSV export of the history; a threaded worker's heartbeat
# does not wait for its requests. Two threads, not more: the threads of a
# process take turns holding the interpreter, and at four a form POST cost
# a fifth more CPU under load (docs/benchmarks.md).
worker_class = "gthread"
threads = 2
