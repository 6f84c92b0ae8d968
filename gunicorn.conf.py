"""gunicorn's settings for the web process; gunicorn reads this file from the
working directory. The number of worker processes comes from WEB_CONCURRENCY
(gunicorn's own variable) or --workers."""

# Threaded workers: a sync worker is killed after `timeout` seconds even while
# it streams a long CSV export of the history; a threaded worker's heartbeat
# does not wait for its requests.
worker_class = "gthread"
threads = 4
