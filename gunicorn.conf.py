"""gunicorn's settings for the web process; gunicorn reads this file from the
working directory."""

import os

# Python runs one thread at a time per process, so the web uses every core only
# with a process per core; two per core plus one keep a core busy while another
# process waits on the database. At most eight: every thread may hold a
# PostgreSQL connection, and PostgreSQL allows 100 by default for the web and
# the workers together. WEB_CONCURRENCY (gunicorn's own variable) sets another
# number.
cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
workers = int(os.environ.get("WEB_CONCURRENCY") or min(2 * (cores or 1) + 1, 8))

# Threaded workers: a sync worker is killed after `timeout` seconds even while
# it streams a long CSV export of the history; a threaded worker's heartbeat
# does not wait for its requests.
worker_class = "gthread"
threads = 2

# A process takes a connection only when one of its threads is free: waiting
# connections stay in the kernel's queue for whichever process frees up first.
# By default a busy process takes up to a thousand and queues them behind its
# own, and under load the slowest requests waited more than twice as long
# (docs/benchmarks.md). Hence no keep-alive: an idle kept connection would hold
# a thread's place. The reverse proxy in front keeps its own.
worker_connections = threads
keepalive = 0
